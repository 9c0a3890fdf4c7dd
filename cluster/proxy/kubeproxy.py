"""kube-proxy, simulated: how a request to a Service reaches one of its pods.

kube-proxy on every node watches Services and EndpointSlices and writes iptables rules
(its default mode on Linux). A connection to a cluster IP, a node port or a load
balancer's address is matched in KUBE-SERVICES (or KUBE-NODEPORTS), jumps to the
Service's KUBE-SVC-… chain, which picks one endpoint chain KUBE-SEP-… at random — rule i
of n matches with probability 1/(n-i), so each ready endpoint is equally likely — and that
chain DNATs the packet to podIP:targetPort. podflow builds the same rules from the same
objects (`rules`) and answers a simulated request by walking them (`request`).

Nothing here writes: kube-proxy only reads the API.
"""
from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from cluster.apimachinery import kinds
from cluster.apimachinery.wellknown import LABEL_SERVICE_NAME as SERVICE_NAME
from cluster.apiserver import store
from cluster.apiserver.registry import services
from cluster.models import Cluster

POD_CIDR = "10.244.0.0/16"  # the nodes' podCIDRs (10.244.<n>.0/24) together
AFFINITY_SECONDS = 10800  # sessionAffinityConfig.clientIP.timeoutSeconds' default

# What the simulated containers answer on their HTTP port, by image repository.
HTTP_ANSWERS = {"nginx": "Welcome to nginx!", "httpd": "It works!"}
LISTENS_ON = {"nginx": 80, "httpd": 80, "redis": 6379}


def _repo(image: str) -> str:
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_name(service: dict, port: dict) -> str:
    """kube-proxy's ServicePortName: namespace/name, with :portname when the port has one."""
    meta = service["metadata"]
    return f"{meta['namespace']}/{meta['name']}" + (f":{port['name']}" if port.get("name") else "")


def svc_chain(service: dict, port: dict, prefix: str = "KUBE-SVC-") -> str:
    return prefix + _hash(port_name(service, port) + port.get("protocol", "TCP").lower())


def sep_chain(service: dict, port: dict, endpoint: str) -> str:
    return "KUBE-SEP-" + _hash(port_name(service, port) + port.get("protocol", "TCP").lower() + endpoint)


def probability(n: int) -> str:
    return f"{1.0 / n:0.10f}"


@dataclass
class Endpoint:
    ip: str
    port: int
    node: str
    pod: str
    pod_uid: str
    ready: bool
    serving: bool
    terminating: bool

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


def endpoints_for(cluster: Cluster, service: dict, port: dict) -> list[Endpoint]:
    """Every endpoint of one Service port, from the Service's EndpointSlices (as kube-proxy reads them)."""
    ns, name = service["metadata"]["namespace"], service["metadata"]["name"]
    found: dict[str, Endpoint] = {}
    for es in store.list_docs(cluster, kinds.ENDPOINTSLICE, ns):
        if (es["metadata"].get("labels") or {}).get(SERVICE_NAME) != name:
            continue
        slice_port = next((p for p in es.get("ports") or [] if (p.get("name") or "") == (port.get("name") or "") and p.get("protocol", "TCP") == port.get("protocol", "TCP")), None)
        if slice_port is None or slice_port.get("port") is None:
            continue
        for ep in es.get("endpoints") or []:
            conditions = ep.get("conditions") or {}
            ready = conditions.get("ready") is not False  # unset means ready
            serving = conditions.get("serving", ready) is not False
            ref = ep.get("targetRef") or {}
            for ip in ep.get("addresses") or []:
                key = f"{ip}:{slice_port['port']}"
                found.setdefault(key, Endpoint(ip, slice_port["port"], ep.get("nodeName", ""), ref.get("name", ""), ref.get("uid", ""), ready, serving, bool(conditions.get("terminating"))))
    return sorted(found.values(), key=lambda e: (tuple(int(x) if x.isdigit() else 0 for x in e.ip.split(".")), e.port))


def usable(endpoints: list[Endpoint], *, node: str | None = None) -> list[Endpoint]:
    """What kube-proxy sends to: the ready endpoints; if there are none, the ones still serving
    while they terminate (so connections drain). `node` keeps only that node's (policy Local)."""
    if node is not None:
        endpoints = [e for e in endpoints if e.node == node]
    ready = [e for e in endpoints if e.ready]
    return ready or [e for e in endpoints if e.serving and e.terminating]


def _service_port(service: dict, wanted: str | None) -> dict | None:
    ports = (service.get("spec") or {}).get("ports") or []
    if not wanted:
        return ports[0] if ports else None
    for port in ports:
        if port.get("name") == wanted or str(port.get("port")) == wanted:
            return port
    return None


# --- the rules ----------------------------------------------------------------------------

def rules(cluster: Cluster, service: dict, *, node: str) -> list[str]:
    """The iptables-save lines kube-proxy on `node` writes for one Service (filter and nat tables)."""
    spec = service.get("spec") or {}
    ns_name = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
    type_ = spec.get("type", "ClusterIP")
    if type_ == "ExternalName" or spec.get("clusterIP") == "None":
        why = "is an ExternalName: DNS answers a CNAME" if type_ == "ExternalName" else "is headless: DNS answers the pods' IPs"
        return [f"# {ns_name} {why}, so kube-proxy writes no rules for it"]
    cluster_ip = spec.get("clusterIP", "")
    lb_ips = [i["ip"] for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if i.get("ip")] if type_ == "LoadBalancer" else []
    external_local = spec.get("externalTrafficPolicy") == "Local"
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    affinity = spec.get("sessionAffinity") == "ClientIP"
    filter_rules: list[str] = []
    nat_services: list[str] = []
    nat_nodeports: list[str] = []
    chains: list[str] = []
    for port in spec.get("ports") or []:
        proto = port.get("protocol", "TCP").lower()
        label = port_name(service, port)
        number, node_port = port.get("port"), port.get("nodePort")
        svc, ext, svl = svc_chain(service, port), svc_chain(service, port, "KUBE-EXT-"), svc_chain(service, port, "KUBE-SVL-")
        endpoints = endpoints_for(cluster, service, port)
        cluster_eps, local_eps = usable(endpoints), usable(endpoints, node=node)
        internal_eps = local_eps if internal_local else cluster_eps
        external_eps = local_eps if external_local else cluster_eps
        has_external = bool(node_port or lb_ips or spec.get("externalIPs"))
        if not internal_eps:
            filter_rules.append(f'-A KUBE-SERVICES -d {cluster_ip}/32 -p {proto} -m comment --comment "{label} has no endpoints" -m {proto} --dport {number} -j REJECT --reject-with icmp-port-unreachable')
        else:
            nat_services.append(f'-A KUBE-SERVICES -d {cluster_ip}/32 -p {proto} -m comment --comment "{label} cluster IP" -m {proto} --dport {number} -j {svc}')
        if has_external and not external_eps:
            if node_port:
                filter_rules.append(f'-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment "{label} has no {"local " if external_local else ""}endpoints" -m addrtype --dst-type LOCAL -m {proto} --dport {node_port} -j REJECT --reject-with icmp-port-unreachable')
            for ip in lb_ips:
                filter_rules.append(f'-A KUBE-EXTERNAL-SERVICES -d {ip}/32 -p {proto} -m comment --comment "{label} has no {"local " if external_local else ""}endpoints" -m {proto} --dport {number} -j REJECT --reject-with icmp-port-unreachable')
        elif has_external:
            for ip in lb_ips:
                nat_services.append(f'-A KUBE-SERVICES -d {ip}/32 -p {proto} -m comment --comment "{label} loadbalancer IP" -m {proto} --dport {number} -j {ext}')
            for ip in spec.get("externalIPs") or []:
                nat_services.append(f'-A KUBE-SERVICES -d {ip}/32 -p {proto} -m comment --comment "{label} external IP" -m {proto} --dport {number} -j {ext}')
            if node_port:
                nat_nodeports.append(f'-A KUBE-NODEPORTS -p {proto} -m comment --comment "{label}" -m {proto} --dport {node_port} -j {ext}')
        # The Service's own chains.
        if internal_eps:
            chains += [f"-A {svc} ! -s {POD_CIDR} -d {cluster_ip}/32 -p {proto} -m comment --comment \"{label} cluster IP\" -m {proto} --dport {number} -j KUBE-MARK-MASQ"]
            chains += _balance(service, port, svc, internal_eps, affinity)
        if has_external and external_eps:
            if external_local:
                chains.append(f'-A {ext} -s {POD_CIDR} -m comment --comment "pod traffic for {label} external destinations" -j {svc}')
                chains.append(f'-A {ext} -m comment --comment "route LOCAL traffic for {label} external destinations" -m addrtype --src-type LOCAL -j {svc}')
                chains.append(f"-A {ext} -j {svl}")
                chains += _balance(service, port, svl, local_eps, affinity)
            else:
                chains.append(f'-A {ext} -m comment --comment "masquerade traffic for {label} external destinations" -j KUBE-MARK-MASQ')
                chains.append(f"-A {ext} -j {svc}")
                if not internal_eps:
                    chains += _balance(service, port, svc, cluster_eps, affinity)
        for ep in {e.address: e for e in cluster_eps + local_eps}.values():
            sep = sep_chain(service, port, ep.address)
            chains.append(f'-A {sep} -s {ep.ip}/32 -m comment --comment "{label}" -j KUBE-MARK-MASQ')
            sticky = f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" if affinity else ""
            chains.append(f'-A {sep} -p {proto} -m comment --comment "{label}"{sticky} -m {proto} -j DNAT --to-destination {ep.address}')
    lines = [f"# kube-proxy (iptables mode) on {node}: the rules for Service {ns_name}, from its EndpointSlices"]
    if filter_rules:
        lines += ["*filter", *filter_rules, "COMMIT"]
    lines += ["*nat", *nat_services]
    if nat_nodeports or any(p.get("nodePort") for p in spec.get("ports") or []):
        lines.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    lines += nat_nodeports + chains + ["COMMIT"]
    return lines


def _balance(service: dict, port: dict, chain: str, endpoints: list[Endpoint], affinity: bool) -> list[str]:
    label = port_name(service, port)
    out = []
    if affinity:
        for ep in endpoints:
            sep = sep_chain(service, port, ep.address)
            out.append(f'-A {chain} -m comment --comment "{label} -> {ep.address}" -m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck --seconds {AFFINITY_SECONDS} --reap -j {sep}')
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        sep = sep_chain(service, port, ep.address)
        statistic = f" -m statistic --mode random --probability {probability(n - i)}" if i < n - 1 else ""
        out.append(f'-A {chain} -m comment --comment "{label} -> {ep.address}"{statistic} -j {sep}')
    return out


# --- a simulated request ----------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def pick(endpoints: list[Endpoint], rng: random.Random) -> Endpoint:
    """Walk a KUBE-SVC chain: rule i of n matches with probability 1/(n-i), the last always."""
    n = len(endpoints)
    for i, ep in enumerate(endpoints[:-1]):
        if rng.random() < 1.0 / (n - i):
            return ep
    return endpoints[-1]


def _sticky(endpoints: list[Endpoint], client: str) -> Endpoint:
    digest = int.from_bytes(hashlib.sha256(client.encode()).digest()[:8], "big")
    return endpoints[digest % len(endpoints)]


def _nodes(cluster: Cluster) -> list[dict]:
    return store.list_docs(cluster, kinds.NODE)


def _node_ip(node: dict) -> str:
    return next((a["address"] for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"), "")


def request(
    cluster: Cluster,
    service: dict,
    *,
    via: str | None = None,
    node: str | None = None,
    port: str | None = None,
    client: str = "",
    rng: random.Random | None = None,
) -> Answer:
    """One simulated connection to a Service, answered by the pod kube-proxy's rules pick."""
    rng = rng or random.SystemRandom()
    spec = service.get("spec") or {}
    meta = service["metadata"]
    type_ = spec.get("type", "ClusterIP")
    base: dict[str, Any] = {"service": meta["name"], "namespace": meta["namespace"], "dns": services.dns_name(meta["namespace"], meta["name"])}
    if type_ == "ExternalName":
        return Answer(400, {**base, "status": 400, "error": f"{meta['name']} is an ExternalName Service: its DNS name is an alias (CNAME) of {spec.get('externalName')}, and kube-proxy does not proxy it"})
    svc_port = _service_port(service, port)
    if svc_port is None:
        return Answer(400, {**base, "status": 400, "error": f"Service {meta['name']} has no port {port!r}" if port else f"Service {meta['name']} has no ports"})
    headless = spec.get("clusterIP") == "None"
    via = via or ("dns" if headless else "nodePort" if svc_port.get("nodePort") else "clusterIP")
    nodes = _nodes(cluster)
    node_doc = next((n for n in nodes if n["metadata"]["name"] == node), None) if node else (nodes[0] if nodes else None)
    if node and node_doc is None:
        return Answer(400, {**base, "status": 400, "error": f'no node named "{node}"'})
    local_to: str | None = None
    if via == "nodePort":
        if not svc_port.get("nodePort"):
            return Answer(400, {**base, "status": 400, "error": f"Service {meta['name']} is of type {type_}: it has no node port"})
        if node_doc is None:
            return Answer(503, {**base, "status": 503, "error": "the cluster has no nodes to send the request to"})
        base["via"] = f"nodePort {svc_port['nodePort']} on {node_doc['metadata']['name']}"
        base["url"] = f"http://{_node_ip(node_doc)}:{svc_port['nodePort']}/"
        local_to = node_doc["metadata"]["name"] if spec.get("externalTrafficPolicy") == "Local" else None
    elif via == "loadBalancer":
        ingress = [i.get("ip") for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if i.get("ip")]
        if type_ != "LoadBalancer" or not ingress:
            return Answer(400 if type_ != "LoadBalancer" else 503, {**base, "status": 400 if type_ != "LoadBalancer" else 503, "error": f"Service {meta['name']} has no load balancer address" + ("" if type_ == "LoadBalancer" else f" (it is of type {type_})")})
        if not nodes:
            return Answer(503, {**base, "status": 503, "error": "the cluster has no nodes to send the request to"})
        # The cloud's load balancer spreads connections over the nodes' node port.
        node_doc = node_doc if node else rng.choice(nodes)
        base["via"] = f"loadBalancer {ingress[0]}:{svc_port['port']} → nodePort {svc_port.get('nodePort')} on {node_doc['metadata']['name']}"
        base["url"] = f"http://{ingress[0]}:{svc_port['port']}/"
        local_to = node_doc["metadata"]["name"] if spec.get("externalTrafficPolicy") == "Local" else None
    elif via in ("clusterIP", "dns"):
        if headless:
            base["via"] = f"headless Service: DNS answers the pods' IPs, the client connects to one (port {svc_port.get('port')})"
        else:
            base["via"] = f"clusterIP {spec.get('clusterIP')}:{svc_port['port']}" + (f" (DNS {base['dns']})" if via == "dns" else "")
            base["url"] = f"http://{base['dns'] if via == 'dns' else spec.get('clusterIP')}:{svc_port['port']}/"
        if spec.get("internalTrafficPolicy") == "Local" and node_doc is not None:
            local_to = node_doc["metadata"]["name"]
    else:
        return Answer(400, {**base, "status": 400, "error": f'unknown way in {via!r}: use "clusterIP", "dns", "nodePort" or "loadBalancer"'})
    entry = node_doc["metadata"]["name"] if node_doc is not None and via in ("nodePort", "loadBalancer") else None
    candidates = usable(endpoints_for(cluster, service, svc_port), node=local_to)
    if not candidates:
        where = f" on {local_to} (its traffic policy is Local)" if local_to else ""
        return Answer(503, {**base, "entryNode": entry, "status": 503, "error": f"Service {meta['name']} has no ready endpoints{where}: no pod it selects is Ready, so kube-proxy's rules reject the connection (curl: Connection refused)"})
    affinity = spec.get("sessionAffinity") == "ClientIP" and bool(client)
    chosen = _sticky(candidates, client) if affinity else pick(candidates, rng)
    pod = store.by_uid(cluster, chosen.pod_uid) if chosen.pod_uid else None
    answer = {
        **base,
        "pod": chosen.pod or None,
        "podIP": chosen.ip,
        "targetPort": chosen.port,
        "node": chosen.node or None,
        "entryNode": entry,
        "chain": ["KUBE-SERVICES" if via != "nodePort" else "KUBE-NODEPORTS", svc_chain(service, svc_port), sep_chain(service, svc_port, chosen.address)],
        "choice": ("sessionAffinity ClientIP: the same client reaches the same pod" if affinity else f"iptables mode: one of {len(candidates)} ready endpoint(s) at random, each equally likely"),
    }
    if pod is None:
        return Answer(200, {**answer, "status": 200, "body": f"answered by {chosen.address}"})
    status, body = container_answer(pod, chosen.port)
    return Answer(200 if status == 200 else 502, {**answer, "status": status, "body": body})


def container_answer(pod: dict, port: int) -> tuple[int, str]:
    """What the pod's container answers on `port`: the image's page, or a refusal when the
    image is known to listen elsewhere (a common mistake with targetPort)."""
    containers = pod["spec"].get("containers") or []
    declared = next((c for c in containers if any(p.get("containerPort") == port for p in c.get("ports") or [])), None)
    container = declared or (containers[0] if containers else {"name": "", "image": ""})
    repo = _repo(container.get("image", ""))
    listens = LISTENS_ON.get(repo)
    name = pod["metadata"]["name"]
    if declared is None and listens is not None and listens != port:
        return 502, f"connection refused: {repo} in pod {name} listens on port {listens}, not {port} (check the Service's targetPort)"
    if repo in HTTP_ANSWERS:
        return 200, HTTP_ANSWERS[repo]
    return 200, f"Hello from {name} ({container.get('image', '')})"
