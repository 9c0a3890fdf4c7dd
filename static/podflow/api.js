// Talking to the Kubernetes-shaped API (/k8s/<cluster>/...) and reading its Status errors.
import { gettext, fmt } from "./i18n.js";

const CLIENT_HEADER = { "X-Podflow-Client": "podflow-page" };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || null;
  }
}

async function call(method, url, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...CLIENT_HEADER, ...extraHeaders };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { message: gettext("Could not reach the server. Is podflow still running?") });
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && data.kind === "Status" ? data : { message: fmt(gettext("The server answered %(code)s."), { code: response.status }) });
  }
  return data;
}

// token: the cluster's bearer token, which the Kubernetes API asks for (as a real API
// server does); the page gets it from the server that rendered it.
export function makeApi(base, speedUrl, csrfToken, token = "") {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const k8s = (method, url, body) => call(method, url, body, auth);
  const ns = `${base}/api/v1/namespaces/default`;
  const apps = `${base}/apis/apps/v1/namespaces/default`;
  return {
    createPod({ name, image, cpu, memory }) {
      const requests = {};
      if (cpu) requests.cpu = cpu;
      if (memory) requests.memory = memory;
      const container = { name, image };
      if (Object.keys(requests).length) container.resources = { requests };
      return k8s("POST", `${ns}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: { containers: [container] },
      });
    },
    createDeployment({ name, image, replicas }) {
      return k8s("POST", `${apps}/deployments`, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name, image }] },
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
    setSpeed(speed) {
      return call("POST", speedUrl, { speed }, { "X-CSRFToken": csrfToken() });
    },
  };
}

// Which form field a Status cause's field path belongs to.
export function fieldFor(path) {
  if (!path) return null;
  if (path === "metadata.name" || /^spec\.(template\.spec\.)?containers\[\d+\]\.name$/.test(path)) return "name";
  if (/containers\[\d+\]\.image$/.test(path)) return "image";
  if (/requests\[cpu\]|requests\.cpu/.test(path)) return "cpu";
  if (/requests\[memory\]|requests\.memory/.test(path)) return "memory";
  if (path === "spec.replicas") return "replicas";
  return null;
}
