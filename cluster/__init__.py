"""podflow's control plane, laid out by Kubernetes component.

Lowest layer first; a module imports only from its own layer or those below it
(tests/unit/test_layers.py checks every import, at any depth):

    apimachinery/   kinds, errors (Status), label and field selectors, quantities,
                    metav1 (time, conditions, the controller ownerReference),
                    well-known labels and taints, taint toleration, pod helpers
    models.py       the storage rows ("etcd"): clusters and their revision, objects,
                    the change log, the step log
    apiserver/      registry/ (one strategy per kind: validation, defaulting, verbs,
                    subresources, update rules, table columns), admission/ (quota,
                    DefaultIngressClass), serializers/ (protobuf, patch, tables);
                    then store.py, the one door every write goes through (rows.py: its
                    rows in plain SQL), audit.py, and history.py (lists at an exact past
                    revision, from the change log)
    componentbase/  what every component shares: Events, step narration, per-object
                    isolation, Kubernetes' clocks at the cluster's speed, the cluster's
                    clock (pause, step, resume) and component switches
    informers/      which committed change wakes which component (a store listener)
    controllers/    the controller manager: deployment, replicaset, garbagecollector,
    scheduler/      endpoints, node lifecycle, namespace, service (load balancer),
    kubelet/        ingress; the scheduler (framework and plugins); the kubelet and
    proxy/          container runtime; kube-proxy
    apiserver/handlers/, tasks.py, actions.py, explain.py, sandbox.py, demo.py, stack.py,
    management/
                    the doors and entry points: the HTTP API, the Celery tasks of each
                    role, sandboxes, the process supervisor, commands
    web/ (beside)   the page, its stream (publishing what the store commits), sign-in

The invariants the code keeps (referred to by number in docstrings):

1. One door: every change to cluster state goes through apiserver/store.py.
2. Kubernetes documents: objects are stored and served as the JSON Kubernetes uses.
3. One revision: each cluster has one counter, raised by every write, which is every
   object's resourceVersion and the change log's key.
4. Level-triggered components: a component re-reads current state and converges; a
   wake-up only says when to look, never what to do.
5. Steps as data: each of the eight steps of a pod's creation is a row written with the
   write that made it happen.
6. Time as a setting: how long a stage takes is the cluster's speed, not a sleep in code.
7. Streams that resume: a follower that missed messages fills the gap from the change log.
8. Every door checks the owner: one rule (apiserver/handlers/access.py) decides who may
   open a cluster, for every URL, API call and websocket.
"""
