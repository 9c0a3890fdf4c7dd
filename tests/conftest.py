import pytest

from cluster.demo import ensure_cluster
from cluster.models import Speed


@pytest.fixture
def cluster(db):
    """A fresh demo-like cluster: namespaces and three Ready nodes, instant speed."""
    created, _ = ensure_cluster("test", nodes=3, speed=Speed.INSTANT)
    return created
