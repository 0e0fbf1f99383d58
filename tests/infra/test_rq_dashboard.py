"""Every page of the RQ dashboard under /admin/rq works for each kind of job we run
(queued, scheduled, finished, failed), for signed-in admins only; its POST buttons work
from the console and are refused from anywhere else."""

from __future__ import annotations

from datetime import timedelta

from app.cli.worker import AppWorker
from app.models.common import utcnow
from app.queue import JOBS, job_queue, redis_connection
from app.services import infra
from app.services.users import create_admin
from tests.admin.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

REGISTRIES = ["queued", "failed", "deferred", "started", "finished", "scheduled", "canceled"]


def our_jobs(account, make_client) -> None:
    """One job of each state, shaped as the app enqueues them."""
    queue = job_queue()
    queue.enqueue(JOBS["verify_domain"], 999_999, 0.0, job_id="finishes")
    queue.enqueue(JOBS["apply"], 999_999, job_id="fails")  # no such run
    AppWorker([queue], connection=redis_connection()).work(burst=True)
    queue.enqueue_at(
        utcnow() + timedelta(hours=1),
        JOBS["verify_domain"],
        1,
        0.0,
        job_id="scheduled",
    )
    infra.request_deploy(make_client(account, "bot", deployed=False))  # stays queued


def test_every_dashboard_page_works_for_our_jobs(infra_app, account, make_client):
    our_jobs(account, make_client)
    create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    http = infra_app.test_client()
    assert http.get("/admin/rq/0/data/queues.json").status_code == 302  # not signed in
    sign_in(http)

    pages = [
        "/admin/rq/",
        "/admin/rq/0/view/queues",
        "/admin/rq/0/view/workers",
        "/admin/rq/0/view/jobs",
        "/admin/rq/0/data/queues.json",
        "/admin/rq/0/data/workers.json",
    ]
    job_ids: set[str] = set()
    for registry in REGISTRIES:
        pages.append(f"/admin/rq/0/view/jobs/chatdock/{registry}/8/asc/1")
        listing = http.get(f"/admin/rq/0/data/jobs/chatdock/{registry}/8/asc/1.json")
        assert listing.status_code == 200, registry
        job_ids |= {job["id"] for job in listing.get_json()["jobs"]}
    assert {"finishes", "fails", "scheduled"} <= job_ids and len(job_ids) == 4
    for job_id in job_ids:
        pages += [f"/admin/rq/0/view/job/{job_id}", f"/admin/rq/0/data/job/{job_id}.json"]
    for page in pages:
        response = http.get(page, follow_redirects=True)
        assert response.status_code == 200, (page, response.get_data(as_text=True)[:300])
        # Its pages run inline scripts and underscore templates: allowed here only.
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'unsafe-inline' 'unsafe-eval'" in policy, page

    failed = http.get("/admin/rq/0/data/job/fails.json").get_json()
    assert failed["status"] == "failed" and "run 999999 does not exist" in failed["exc_info"]

    refused = http.post("/admin/rq/job/fails/requeue")
    assert refused.status_code == 403
    elsewhere = {"Origin": "https://evil.example"}
    assert http.post("/admin/rq/job/fails/requeue", headers=elsewhere).status_code == 403
    console = {"Origin": "http://localhost"}
    response = http.post("/admin/rq/job/fails/requeue", headers=console)
    assert response.status_code == 200 and response.get_json()["status"] == "OK"
    assert "fails" in job_queue().get_job_ids()


def failed_jobs() -> list[str]:
    return job_queue().failed_job_registry.get_job_ids()


def test_state_changes_are_refused_cross_site_whatever_the_method(infra_app, account, make_client):
    """Issue 17, Medium 4: a cross-site GET (a link or an <img>, sent with the Lax cookie)
    must not requeue; the console's own requests still work."""
    our_jobs(account, make_client)
    create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    http = infra_app.test_client()
    sign_in(http)
    assert failed_jobs() == ["fails"]
    cross_site = [
        {},  # a typed URL or a stripped Referer: nothing says it is ours
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"},
        {"Sec-Fetch-Site": "same-site"},  # e.g. from a client's host under the same site
        {"Origin": "null"},
    ]
    for headers in cross_site:
        for method in ("GET", "POST"):
            response = http.open("/admin/rq/requeue/chatdock", method=method, headers=headers)
            assert response.status_code == 403, (method, headers)
    assert failed_jobs() == ["fails"]
    # Read-only pages need no such proof (they are opened by typing or following links).
    assert http.get("/admin/rq/0/data/queues.json").status_code == 200

    own = http.get("/admin/rq/requeue/chatdock", headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200 and own.get_json() == {"status": "OK", "count": 1}
    assert failed_jobs() == []


def test_compact_works_on_an_empty_queue(infra_app):
    """Issue 17, Low: "compact" on an empty queue answered 500."""
    create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    http = infra_app.test_client()
    sign_in(http)
    response = http.post("/admin/rq/queue/chatdock/compact", headers={"Origin": "http://localhost"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json() == {"status": "OK"}


def test_unknown_jobs_are_a_console_404_and_every_page_leads_back(infra_app):
    create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    http = infra_app.test_client()
    sign_in(http)
    missing = http.get("/admin/rq/0/view/job/no-such-job")
    assert missing.status_code == 404
    page = missing.get_data(as_text=True)
    assert "No such job in Redis" in page and "Back to the console" in page
    queues = http.get("/admin/rq/0/view/jobs").get_data(as_text=True)
    assert 'id="back-to-console" href="/admin/"' in queues
