"""A minimal Kubernetes REST client for the end-to-end tests (client-certificate auth, JSON
bodies), Python standard library only. Part of the harness: k8s_harness re-exports it."""

import copy
import http.client
import json
import ssl
import threading
import time
import urllib.parse


class ApiError(Exception):
    """An HTTP error answer of the API server: .status (int), .body (parsed JSON or text)."""

    def __init__(self, method, path, status, body):
        self.status, self.body = status, body
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__("%s %s -> HTTP %d: %s" % (method, path, status, msg))


class Kube:
    """A minimal Kubernetes REST client with client-certificate auth. Thread-safe (one
    keep-alive connection per thread). Bodies are dicts (JSON); answers are parsed JSON."""

    def __init__(self, server, ca_file, cert_file, key_file, timeout=30):
        u = urllib.parse.urlparse(server)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, fresh=False):
        c = getattr(self._local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                            timeout=self.timeout)
            self._local.conn = c
        return c

    def close(self):
        """Closes this thread's connection (others close when their threads end)."""
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def request(self, method, path, body=None, content_type="application/json", query=None):
        """One call; returns the parsed JSON answer (None for an empty body). Raises ApiError
        on HTTP >= 400 and OSError when the server cannot be reached (after one reconnect)."""
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        data = None if body is None else (body if isinstance(body, (bytes, str))
                                          else json.dumps(body))
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        if resp.status >= 400:
            raise ApiError(method, path, resp.status, parsed)
        return parsed

    # generic verbs
    def get(self, path, **query):
        return self.request("GET", path, query=query or None)

    def list(self, path, **query):
        """The items of a list call (label_selector -> labelSelector etc. are passed as is)."""
        return self.request("GET", path, query=query or None).get("items") or []

    def create(self, path, obj):
        return self.request("POST", path, obj)

    def patch(self, path, patch, kind="merge"):
        """kind: merge | strategic | json."""
        ctype = {"merge": "application/merge-patch+json",
                 "strategic": "application/strategic-merge-patch+json",
                 "json": "application/json-patch+json"}[kind]
        return self.request("PATCH", path, patch, content_type=ctype)

    def delete(self, path, grace_seconds=None, missing_ok=True):
        body = None
        if grace_seconds is not None:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace_seconds}
        try:
            return self.request("DELETE", path, body)
        except ApiError as e:
            if missing_ok and e.status == 404:
                return None
            raise

    # pods
    @staticmethod
    def pod_path(ns, name=""):
        return "/api/v1/namespaces/%s/pods%s" % (ns, "/" + name if name else "")

    def create_pod(self, ns, pod):
        """Creates a pod from a dict (metadata.namespace is set to ns); returns the created pod
        (after the webhook's mutation)."""
        pod = copy.deepcopy(pod)
        pod.setdefault("apiVersion", "v1")
        pod.setdefault("kind", "Pod")
        pod.setdefault("metadata", {})["namespace"] = ns
        return self.create(self.pod_path(ns), pod)

    def get_pod(self, ns, name):
        return self.get(self.pod_path(ns, name))

    def try_get_pod(self, ns, name):
        """The pod, or None when it does not exist."""
        try:
            return self.get_pod(ns, name)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def list_pods(self, ns=None, label_selector=None):
        path = self.pod_path(ns) if ns else "/api/v1/pods"
        return self.list(path, **({"labelSelector": label_selector} if label_selector else {}))

    def delete_pod(self, ns, name, grace_seconds=None):
        return self.delete(self.pod_path(ns, name), grace_seconds)

    # nodes
    def get_node(self, name):
        return self.get("/api/v1/nodes/" + name)

    def list_nodes(self, label_selector=None):
        return self.list("/api/v1/nodes",
                         **({"labelSelector": label_selector} if label_selector else {}))

    def patch_node(self, name, patch, kind="merge", status=False):
        return self.patch("/api/v1/nodes/%s%s" % (name, "/status" if status else ""), patch, kind)

    def annotate_node(self, name, annotations):
        """Merge-patches node annotations (a None value removes the key)."""
        return self.patch_node(name, {"metadata": {"annotations": annotations}})

    # leases
    def lease_path(self, ns, name=""):
        return "/apis/coordination.k8s.io/v1/namespaces/%s/leases%s" % (ns, "/" + name if name else "")

    def put_lease(self, ns, name, holder, duration_s=15):
        """Creates or updates a Lease held by `holder`, renewed now."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        spec = {"holderIdentity": holder, "leaseDurationSeconds": duration_s,
                "acquireTime": now, "renewTime": now}
        try:
            cur = self.get(self.lease_path(ns, name))
        except ApiError as e:
            if e.status != 404:
                raise
            return self.create(self.lease_path(ns), {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": ns}, "spec": spec})
        cur["spec"].update(spec)
        return self.request("PUT", self.lease_path(ns, name), cur)
