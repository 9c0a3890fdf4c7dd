from django.apps import AppConfig


class ClusterConfig(AppConfig):
    name = "cluster"
    verbose_name = "Cluster store (our etcd)"

    def ready(self) -> None:
        from cluster import metrics
        from cluster.apiserver import audit, requestlog, store
        from cluster.informers import wake
        from cluster.labs import follow

        # Writes, revisions and the time from a pod's creation to each step (/metrics). First:
        # a pod's creation time goes to the cache before any component is woken for it, or
        # the scheduler could bind it and find no creation time to time step 4 from.
        store.on_commit(metrics.committed)
        # The informers: after each commit, the components that watch what it wrote are woken.
        store.on_commit(wake.route)
        # The request log: each request the API server answered, kept for the labs' checks.
        audit.subscribe(requestlog.record)
        # Labs in progress: their checks re-run on the server as the cluster changes.
        store.on_commit(follow.committed)
        audit.subscribe(follow.announced)
