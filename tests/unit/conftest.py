import pytest
from django.test import Client


@pytest.fixture
def api(cluster) -> Client:
    """A client of the test cluster's API with its bearer token, as kubectl is. (The test
    cluster is not a sandbox, so no write rate applies to it.)"""
    return Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
