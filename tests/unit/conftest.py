import pytest
from django.test import Client


@pytest.fixture
def api(cluster) -> Client:
    """A client of the test cluster's API with its bearer token, as kubectl is. (The test
    cluster is not a sandbox, so no write rate applies to it.)"""
    return Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


@pytest.fixture(autouse=True)
def _request_log_written_by_the_request(settings):
    """A unit test's database is one connection's open transaction, which the request log's
    own writer thread (cluster/apiserver/requestlog.py) could not see into: here each row is
    written by the request, before its answer. test_requestlog_writer.py tests the thread
    on a database that commits."""
    settings.PODFLOW_REQUEST_LOG_THREAD = False
