// Talking to the Kubernetes-shaped API (/k8s/<cluster>/...) and reading its Status errors.
import { gettext, fmt } from "./i18n.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || null;
  }
}

async function call(method, url, body, extraHeaders = {}, { contentType = "application/json", text = false } = {}) {
  const headers = { Accept: text ? "text/plain" : "application/json", ...extraHeaders };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { message: gettext("Could not reach the server. Is podflow still running?") });
  }
  if (text && response.ok) return response.text();
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    // A simulated request that no pod could answer (503) is an answer, not a failure.
    if (data && data.kind !== "Status" && data.status === response.status && (data.error || data.service || data.ingress)) {
      throw new ApiError(response.status, { message: data.error || "", answer: data });
    }
    throw new ApiError(response.status, data && data.kind === "Status" ? data : { message: fmt(gettext("The server answered %(code)s."), { code: response.status }) });
  }
  return data;
}

// The page calls the Kubernetes API as its signed-in (or anonymous) owner: the session
// cookie says who, and every write carries the CSRF token, as Django asks of a form.
// (kubectl uses the kubeconfig's bearer token instead.)
export function makeApi(base, speedUrl, csrfToken) {
  const k8s = (method, url, body, options) => call(method, url, body, SAFE.has(method) ? {} : { "X-CSRFToken": csrfToken() }, options);
  const ns = `${base}/api/v1/namespaces/default`;
  const apps = `${base}/apis/apps/v1/namespaces/default`;
  const podflow = `${base}/podflow/v1`;
  const nsOf = (namespace) => `${base}/api/v1/namespaces/${encodeURIComponent(namespace || "default")}`;
  const appsOf = (namespace) => `${base}/apis/apps/v1/namespaces/${encodeURIComponent(namespace || "default")}`;
  const svcOf = (namespace, name) => `${podflow}/namespaces/${encodeURIComponent(namespace || "default")}/services/${encodeURIComponent(name)}`;
  return {
    // The page's terminal: the server runs kubectl; its output comes as a text stream.
    async kubectl(command, signal) {
      const response = await fetch(`${podflow}/kubectl`, {
        method: "POST", credentials: "same-origin", signal,
        headers: { "Content-Type": "application/json", Accept: "text/plain", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ command }),
      });
      if (!response.ok) {
        let data = null;
        try { data = await response.json(); } catch (err) { data = null; }
        throw new ApiError(response.status, data && data.kind === "Status" ? data : { message: fmt(gettext("The server answered %(code)s."), { code: response.status }) });
      }
      return response.body.getReader();
    },
    // Why a pod is as it is, and which component is responsible (podflow/v1 explain).
    explain(namespace, name) {
      return k8s("GET", `${podflow}/namespaces/${encodeURIComponent(namespace || "default")}/pods/${encodeURIComponent(name)}/explain`);
    },
    // etcd's keys as the API server stores them (podflow/v1/etcd): a prefix, a limit, and
    // optionally the revision to read them at.
    etcd({ prefix = "/registry/", limit = 500, at = null } = {}) {
      const query = new URLSearchParams({ prefix, limit: String(limit) });
      if (at) query.set("at", String(at));
      return k8s("GET", `${podflow}/etcd?${query}`);
    },
    // The watch events each component received, and what each woke (podflow/v1/watches).
    watches({ since = null, limit = 200 } = {}) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (since !== null && since !== undefined) query.set("since", String(since));
      return k8s("GET", `${podflow}/watches?${query}`);
    },
    // The labs (podflow/v1/labs): the catalogue, one lab with this cluster's progress, its
    // checks evaluated now, and the learner's moves (start, answer, hint, solution, next, cleanup).
    labs() {
      return k8s("GET", `${podflow}/labs`);
    },
    lab(id) {
      return k8s("GET", `${podflow}/labs/${encodeURIComponent(id)}`);
    },
    labChecks(id) {
      return k8s("GET", `${podflow}/labs/${encodeURIComponent(id)}/checks`);
    },
    labAct(id, verb) {
      return k8s("POST", `${podflow}/labs/${encodeURIComponent(id)}/${verb}`, {});
    },
    labAnswer(id, step, answer) {
      return k8s("POST", `${podflow}/labs/${encodeURIComponent(id)}/answer`, { step, answer });
    },
    // The cluster's clock and its components (podflow/v1/clock, podflow/v1/components).
    clock() {
      return k8s("GET", `${podflow}/clock`);
    },
    setPaused(paused) {
      return k8s("POST", `${podflow}/clock`, { paused });
    },
    step(component) {
      return k8s("POST", `${podflow}/clock/step`, component ? { component } : {});
    },
    switchComponent(component, action) {
      return k8s("POST", `${podflow}/components/${encodeURIComponent(component)}/${action}`);
    },
    createPod({ name, image, cpu, memory, probes = false }) {
      const requests = {};
      if (cpu) requests.cpu = cpu;
      if (memory) requests.memory = memory;
      const container = { name, image };
      if (Object.keys(requests).length) container.resources = { requests };
      if (probes) Object.assign(container, probeSpec());
      return k8s("POST", `${ns}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: { containers: [container] },
      });
    },
    createDeployment({ name, image, replicas, probes = false }) {
      const container = { name, image };
      if (probes) Object.assign(container, probeSpec());
      return k8s("POST", `${apps}/deployments`, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [container] },
          },
        },
      });
    },
    deletePod(name) {
      return k8s("DELETE", `${ns}/pods/${encodeURIComponent(name)}`);
    },
    deleteDeployment(name) {
      return k8s("DELETE", `${apps}/deployments/${encodeURIComponent(name)}`);
    },
    // kubectl expose deployment NAME --type=TYPE --port=PORT [--target-port] (plus a chosen node port).
    createService({ name, namespace, selector, type, port, targetPort, nodePort }) {
      const p = { protocol: "TCP", port, targetPort: targetPort || port };
      if (nodePort && type !== "ClusterIP") p.nodePort = nodePort;
      return k8s("POST", `${nsOf(namespace)}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, labels: { ...selector } },
        spec: { type, selector, ports: [p] },
      });
    },
    deleteService(namespace, name) {
      return k8s("DELETE", `${nsOf(namespace)}/services/${encodeURIComponent(name)}`);
    },
    // As kubectl annotate --overwrite: a merge patch of metadata.annotations.
    annotatePod(namespace, name, annotations) {
      return k8s("PATCH", `${nsOf(namespace)}/pods/${encodeURIComponent(name)}`, { metadata: { annotations } }, { contentType: "application/merge-patch+json" });
    },
    // As kubectl scale: a merge patch of the scale subresource.
    scaleDeployment(namespace, name, replicas) {
      return k8s("PATCH", `${appsOf(namespace)}/deployments/${encodeURIComponent(name)}/scale`, { spec: { replicas } }, { contentType: "application/merge-patch+json" });
    },
    // As kubectl set image: a strategic merge patch keyed by the container's name.
    setImage(namespace, name, container, image) {
      return k8s("PATCH", `${appsOf(namespace)}/deployments/${encodeURIComponent(name)}`, {
        spec: { template: { spec: { "$setElementOrder/containers": [{ name: container }], containers: [{ name: container, image }] } } },
      }, { contentType: "application/strategic-merge-patch+json" });
    },
    // As kubectl rollout undo --to-revision: a JSON patch putting the ReplicaSet's template
    // (without its pod-template-hash label) and annotations back on the Deployment.
    rollback(namespace, name, template, annotations) {
      return k8s("PATCH", `${appsOf(namespace)}/deployments/${encodeURIComponent(name)}`, [
        { op: "replace", path: "/spec/template", value: template },
        { op: "replace", path: "/metadata/annotations", value: annotations },
      ], { contentType: "application/json-patch+json" });
    },
    deleteDeploymentIn(namespace, name) {
      return k8s("DELETE", `${appsOf(namespace)}/deployments/${encodeURIComponent(name)}`);
    },
    // podflow's own endpoints: a simulated curl, kube-proxy's rules, a node's power switch.
    serviceRequest(namespace, name, { via, node, count }) {
      const body = { count };
      if (via) body.via = via;
      if (node) body.node = node;
      return k8s("POST", `${svcOf(namespace, name)}/request`, body);
    },
    // A simulated curl -H "Host: …" http://<the Ingress's address><path>.
    ingressRequest(namespace, name, { host, path, count }) {
      const body = { count };
      if (host) body.host = host;
      if (path) body.path = path;
      return k8s("POST", `${podflow}/namespaces/${encodeURIComponent(namespace || "default")}/ingresses/${encodeURIComponent(name)}/request`, body);
    },
    proxyRules(namespace, name, node) {
      return k8s("GET", `${svcOf(namespace, name)}/proxy-rules?node=${encodeURIComponent(node)}&format=text`, undefined, { text: true });
    },
    nodePower(name, action) {
      return k8s("POST", `${podflow}/nodes/${encodeURIComponent(name)}/${action}`);
    },
    setSpeed(speed) {
      return call("POST", speedUrl, { speed }, { "X-CSRFToken": csrfToken() });
    },
  };
}

// Readiness and liveness probes as a learner would write them for nginx: whether they pass
// is the pod's podflow.dev/readiness and podflow.dev/liveness annotations' to say.
function probeSpec() {
  const check = { httpGet: { path: "/", port: 80 }, periodSeconds: 5, failureThreshold: 3 };
  return { readinessProbe: { ...check }, livenessProbe: { ...check, httpGet: { path: "/", port: 80 } } };
}

// Which form field a Status cause's field path belongs to.
export function fieldFor(path) {
  if (!path) return null;
  if (path === "metadata.name" || /^spec\.(template\.spec\.)?containers\[\d+\]\.name$/.test(path)) return "name";
  if (/containers\[\d+\]\.image$/.test(path)) return "image";
  if (/requests\[cpu\]|requests\.cpu/.test(path)) return "cpu";
  if (/requests\[memory\]|requests\.memory/.test(path)) return "memory";
  if (path === "spec.replicas") return "replicas";
  if (/^spec\.ports\[\d+\]\.nodePort$/.test(path)) return "nodePort";
  if (/^spec\.ports\[\d+\]\.port$/.test(path)) return "port";
  if (/^spec\.ports\[\d+\]\.targetPort$/.test(path)) return "targetPort";
  return null;
}
