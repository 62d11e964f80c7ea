#!/usr/bin/env python3
"""e2e (helm): the chart charts/hami against the kit's real kube-apiserver.

(a) `kubectl apply --dry-run=server` of the default `helm template` rendering: the API server
    (admission, validation, defaulting) accepts every object and creates none;
(b) `helm install hami charts/hami -n hami-system`: every rendered object is created; the
    certificate Job's script, taken from the installed ConfigMap with the installed Job's env,
    is run here as the Job would run it (the hami-certgen ServiceAccount's token, so its RBAC is
    exercised too): it creates the Secret (CA, a certificate for the Service signed by it, key)
    and writes the CA into the webhook's caBundle; a second run keeps both;
    `helm upgrade` with another node policy changes the scheduler's flags and keeps the caBundle;
    one with another image tag works once the finished Job is gone (ttlSecondsAfterFinished)
    and recreates it;
    `helm uninstall` deletes every rendered object and leaves what docs/quickstart.md lists (the
    certificate Secret, the namespace).
There is no kubelet or controller: no pod runs, the Job's pod is never created.

Needs helm ($HAMI_HELM, $HAMI_BUILD_DIR/tools/helm, <source>/build/tools/helm or PATH) and
kubectl; exits 77 (skipped) without them or without the kit.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "hami-system"
CHART = os.path.join(h.SOURCE_DIR, "charts", "hami")


def find_tool(name, env_var, extra=()):
    """$env_var, else the extra candidates, else PATH; None when absent."""
    path = os.environ.get(env_var)
    if path:
        return path if os.access(path, os.X_OK) else None
    for candidate in extra:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


HELM = find_tool("helm", "HAMI_HELM", [
    os.path.join(os.environ.get("HAMI_BUILD_DIR", os.path.join(h.SOURCE_DIR, "build")),
                 "tools", "helm"),
    os.path.join(h.SOURCE_DIR, "build", "tools", "helm")])
KUBECTL = find_tool("kubectl", "HAMI_KUBECTL")


class NoBinaries:
    """The chart test runs none of hami's binaries (no pods run without a kubelet)."""

    def snapshot(self, directory):
        return self


class HelmTest(h.E2ETestCase):
    def run_tool(self, argv, stdin=None, check=True, env=None):
        r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env or self.env, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, "%s failed (%d):\n%s\n%s" % (
                " ".join(argv[:4]), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def kubectl(self, *args, **kw):
        return self.run_tool([KUBECTL, "--kubeconfig", self.kubeconfig] + list(args), **kw)

    def helm(self, *args, **kw):
        return self.run_tool([HELM, "--kubeconfig", self.kubeconfig] + list(args), **kw)

    def names(self, manifest_path, verb):
        """The objects of the manifest file as kubectl names them: `verb` is create (what the
        file holds, client side) or get (what exists)."""
        if verb == "create":
            r = self.kubectl("create", "--dry-run=client", "-o", "name", "-f", manifest_path)
        else:
            r = self.kubectl("get", "-o", "name", "--ignore-not-found", "-f", manifest_path)
        return sorted(line for line in r.stdout.splitlines() if line.strip())

    def get_json(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def run_certgen(self, sa_dir):
        """The installed Job's script with the installed Job's env, as the Job's pod would."""
        job = self.get_json("-n", NS, "job", "hami-certgen")
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for var in container.get("env", []):
            field = var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            if "value" in var:
                env[var["name"]] = var["value"]
            elif field == "metadata.namespace":  # the downward API, as kubelet resolves it
                env[var["name"]] = job["metadata"]["namespace"]
            else:
                self.fail("env %s: the test does not resolve %s" % (var["name"], var))
        for key in ("NAMESPACE", "SECRET_NAME", "SERVICE_NAME", "WEBHOOK_NAME"):
            self.assertIn(key, env, "the Job does not set %s" % key)
        script_map = self.get_json("-n", NS, "configmap", "hami-certgen-script")
        script = next(iter(script_map["data"].values()))
        with open(os.path.join(CHART, "files", "gen-certs.sh")) as f:
            self.assertEqual(script, f.read(), "the installed script is not files/gen-certs.sh")
        path = os.path.join(sa_dir, "gen-certs.sh")
        with open(path, "w") as f:
            f.write(script)
        run_env = dict(os.environ, SA_DIR=sa_dir, API_SERVER=self.cluster.env["K8S_APISERVER"],
                       **env)
        return env, self.run_tool(["sh", path], env=run_env)

    def test_install_certificate_upgrade_uninstall(self):
        with h.Cluster(namespace=NS, binaries=NoBinaries()) as c:
            self.cluster = c
            self.kubeconfig = os.path.join(c.run, "admin.kubeconfig")
            self.env = dict(os.environ, KUBECONFIG=self.kubeconfig,
                            HELM_CACHE_HOME=os.path.join(c.run, "helm-cache"),
                            HELM_CONFIG_HOME=os.path.join(c.run, "helm-config"),
                            HELM_DATA_HOME=os.path.join(c.run, "helm-data"))
            rendered = self.helm("template", "hami", CHART, "-n", NS).stdout
            manifest = os.path.join(c.run, "rendered.yaml")
            with open(manifest, "w") as f:
                f.write(rendered)
            expected = self.names(manifest, "create")
            self.assertGreaterEqual(len(expected), 25, expected)

            # (a) the server accepts every object and creates none.
            r = self.kubectl("apply", "--dry-run=server", "-f", manifest)
            self.assertEqual(r.stdout.count("(server dry run)"), len(expected), r.stdout)
            self.assertEqual(self.names(manifest, "get"), [], "a dry run created objects")

            # (b) a real install creates every object.
            self.helm("install", "hami", CHART, "-n", NS)
            self.assertEqual(self.names(manifest, "get"), expected)
            hook = self.get_json("mutatingwebhookconfiguration", "hami-webhook")
            self.assertFalse(hook["webhooks"][0]["clientConfig"].get("caBundle"),
                             "caBundle before the certificate Job ran")

            # The certificate Job's script with the hami-certgen ServiceAccount's token.
            sa_dir = tempfile.mkdtemp(prefix="sa-", dir=c.run)
            token = self.kubectl("create", "token", "-n", NS, "hami-certgen").stdout.strip()
            with open(os.path.join(sa_dir, "token"), "w") as f:
                f.write(token)
            shutil.copy(c.env.get("K8S_CA") or os.path.join(c.run, "pki", "ca.crt"),
                        os.path.join(sa_dir, "ca.crt"))
            env, r = self.run_certgen(sa_dir)
            self.assertIn("created Secret", r.stdout + r.stderr)
            secret = self.get_json("-n", NS, "secret", env["SECRET_NAME"])
            files = {}
            for key in ("ca.crt", "tls.crt", "tls.key"):
                self.assertTrue(secret["data"].get(key), "Secret without %s" % key)
                files[key] = os.path.join(sa_dir, "out-" + key)
                with open(files[key], "wb") as f:
                    f.write(base64.b64decode(secret["data"][key]))
            # The certificate is the CA's, for the Service the webhook calls, and fits the key.
            self.run_tool(["openssl", "verify", "-CAfile", files["ca.crt"], files["tls.crt"]])
            text = self.run_tool(["openssl", "x509", "-noout", "-text", "-in",
                                  files["tls.crt"]]).stdout
            self.assertIn("DNS:%s.%s.svc" % (env["SERVICE_NAME"], NS), text)
            pub_cert = self.run_tool(["openssl", "x509", "-noout", "-pubkey", "-in",
                                      files["tls.crt"]]).stdout
            pub_key = self.run_tool(["openssl", "pkey", "-pubout", "-in", files["tls.key"]]).stdout
            self.assertEqual(pub_cert, pub_key, "tls.key does not match tls.crt")
            # The deployment mounts that Secret; the webhook trusts its CA.
            deployment = self.get_json("-n", NS, "deployment", "hami-scheduler")
            mounted = [v["secret"]["secretName"] for v in
                       deployment["spec"]["template"]["spec"].get("volumes", []) if "secret" in v]
            self.assertEqual(mounted, [env["SECRET_NAME"]])
            hook = self.get_json("mutatingwebhookconfiguration", env["WEBHOOK_NAME"])
            self.assertEqual(hook["webhooks"][0]["clientConfig"].get("caBundle"),
                             secret["data"]["ca.crt"])
            # A second run (the Job again after an upgrade) keeps the certificate.
            _, r = self.run_certgen(sa_dir)
            self.assertIn("keeping the certificate", r.stdout + r.stderr)
            again = self.get_json("-n", NS, "secret", env["SECRET_NAME"])
            self.assertEqual(again["data"], secret["data"])

            # helm upgrade with another value: the flags change, the caBundle stays.
            self.helm("upgrade", "hami", CHART, "-n", NS,
                      "--set", "scheduler.defaultSchedulerPolicy.nodeSchedulerPolicy=spread")
            deployment = self.get_json("-n", NS, "deployment", "hami-scheduler")
            args = [a for ct in deployment["spec"]["template"]["spec"]["containers"]
                    for a in ct.get("args", []) + ct.get("command", [])]
            self.assertIn("--node-scheduler-policy=spread", args)
            hook = self.get_json("mutatingwebhookconfiguration", env["WEBHOOK_NAME"])
            self.assertEqual(hook["webhooks"][0]["clientConfig"].get("caBundle"),
                             secret["data"]["ca.crt"], "helm upgrade dropped the caBundle")
            status = json.loads(self.helm("status", "hami", "-n", NS, "-o", "json").stdout)
            self.assertEqual(status["version"], 2)
            # An upgrade to another image tag changes the certificate Job's pod template, which
            # the API server refuses to change in place (Job templates are immutable): the chart
            # relies on ttlSecondsAfterFinished removing the finished Job (docs/quickstart.md);
            # here, with no TTL controller, it is deleted as that controller would.
            r = self.helm("upgrade", "hami", CHART, "-n", NS, "--reuse-values",
                          "--set", "global.imageTag=9.9.9", check=False)
            self.assertNotEqual(r.returncode, 0, "the Job's template changed in place?")
            self.assertIn("field is immutable", r.stderr)
            self.kubectl("delete", "-n", NS, "job", "hami-certgen")
            self.helm("upgrade", "hami", CHART, "-n", NS, "--reuse-values",
                      "--set", "global.imageTag=9.9.9")
            job = self.get_json("-n", NS, "job", "hami-certgen")
            self.assertTrue(job["spec"]["template"]["spec"]["containers"][0]["image"]
                            .endswith(":9.9.9"), job["spec"]["template"]["spec"]["containers"][0])

            # helm uninstall: every rendered object goes; what docs/quickstart.md lists stays.
            self.helm("uninstall", "hami", "-n", NS)
            h.wait_for(lambda: self.names(manifest, "get") == [], 30,
                       "every rendered object deleted")
            self.get_json("-n", NS, "secret", env["SECRET_NAME"])  # left, as documented
            self.get_json("namespace", NS)
            r = self.helm("list", "-n", NS, "-q")
            self.assertEqual(r.stdout.strip(), "")


def main():
    h.parse_args()
    h.require_kit()
    for name, path in (("helm", HELM), ("kubectl", KUBECTL), ("openssl", shutil.which("openssl"))):
        if not path:
            print("skipped: no %s (scripts/install-deps.sh installs it; $HAMI_HELM / "
                  "$HAMI_KUBECTL)" % name)
            sys.stdout.flush()
            sys.exit(h.SKIP)
    unittest.main()


if __name__ == "__main__":
    main()
