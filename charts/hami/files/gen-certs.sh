#!/bin/sh
# hami-certgen (certgen.yaml): the hami-scheduler extender's serving certificate.
#
# 1. Reads Secret $NAMESPACE/$SECRET_NAME. If it holds ca.crt, tls.crt and tls.key, keeps it.
# 2. Otherwise makes a self-signed CA and a certificate signed by it for the Service
#    $SERVICE_NAME (every DNS form the API server may use, plus localhost and 127.0.0.1 for the
#    kube-scheduler container), and creates the Secret (or patches an incomplete one).
# 3. If $WEBHOOK_NAME is set, writes the CA into that MutatingWebhookConfiguration's caBundle.
#
# Needs sh, openssl, curl, base64 and sed; talks to the API server with the pod's
# ServiceAccount token (RBAC in certgen.yaml). Any failure exits non-zero and the Job retries.
set -eu

: "${NAMESPACE:?NAMESPACE is not set}"
: "${SECRET_NAME:?SECRET_NAME is not set}"
: "${SERVICE_NAME:?SERVICE_NAME is not set}"
WEBHOOK_NAME="${WEBHOOK_NAME:-}"
SA_DIR="${SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}"
API_SERVER="${API_SERVER:-https://${KUBERNETES_SERVICE_HOST:?}:${KUBERNETES_SERVICE_PORT:?}}"
DAYS="${CERT_DAYS:-3650}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

# api METHOD PATH [CONTENT-TYPE BODY-FILE]: prints the HTTP status; the body goes to $work/out.
api() {
  method="$1"
  path="$2"
  set -- -sS -o "$work/out" -w '%{http_code}' --cacert "$SA_DIR/ca.crt" \
    -H "Authorization: Bearer $(cat "$SA_DIR/token")" -H "Accept: application/json" \
    -X "$method" ${3:+-H "Content-Type: $3"} ${4:+--data-binary "@$4"}
  curl "$@" "$API_SERVER$path"
}

# field NAME: the value of "NAME":"..." in $work/out (base64 values contain no quotes).
field() {
  tr -d ' \n\r\t' < "$work/out" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

b64() { base64 < "$1" | tr -d '\n'; }

fail() {
  echo "hami-certgen: $*" >&2
  [ -s "$work/out" ] && cat "$work/out" >&2
  exit 1
}

secret_path="/api/v1/namespaces/$NAMESPACE/secrets"
status="$(api GET "$secret_path/$SECRET_NAME")"
ca=""
if [ "$status" = 200 ]; then
  ca="$(field 'ca\.crt')"
  if [ -n "$ca" ] && [ -n "$(field 'tls\.crt')" ] && [ -n "$(field 'tls\.key')" ]; then
    echo "hami-certgen: keeping the certificate in Secret $NAMESPACE/$SECRET_NAME"
  else
    ca=""
  fi
elif [ "$status" != 404 ]; then
  fail "GET Secret $NAMESPACE/$SECRET_NAME: HTTP $status"
fi

if [ -z "$ca" ]; then
  host="$SERVICE_NAME.$NAMESPACE.svc"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS" \
    -subj "/CN=hami-scheduler-ca" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$host" \
    -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
  cat > "$work/ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @names
[names]
DNS.1 = $SERVICE_NAME
DNS.2 = $SERVICE_NAME.$NAMESPACE
DNS.3 = $host
DNS.4 = $host.cluster.local
DNS.5 = localhost
IP.1 = 127.0.0.1
EOF
  openssl x509 -req -sha256 -days "$DAYS" -in "$work/tls.csr" -CA "$work/ca.crt" \
    -CAkey "$work/ca.key" -CAcreateserial -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null
  openssl verify -CAfile "$work/ca.crt" "$work/tls.crt" > /dev/null ||
    fail "the new certificate does not verify against its CA"
  ca="$(b64 "$work/ca.crt")"
  crt="$(b64 "$work/tls.crt")"
  key="$(b64 "$work/tls.key")"
  data="\"data\":{\"ca.crt\":\"$ca\",\"tls.crt\":\"$crt\",\"tls.key\":\"$key\"}"
  labels='{"app.kubernetes.io/name":"hami","app.kubernetes.io/component":"hami-certgen"}'
  if [ "$status" = 404 ]; then
    printf '{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",%s,%s}' \
      "\"metadata\":{\"name\":\"$SECRET_NAME\",\"labels\":$labels}" "$data" > "$work/body"
    status="$(api POST "$secret_path" application/json "$work/body")"
    [ "$status" = 201 ] || fail "create Secret $NAMESPACE/$SECRET_NAME: HTTP $status"
    echo "hami-certgen: created Secret $NAMESPACE/$SECRET_NAME"
  else
    printf '{%s}' "$data" > "$work/body"
    status="$(api PATCH "$secret_path/$SECRET_NAME" application/merge-patch+json "$work/body")"
    [ "$status" = 200 ] || fail "patch Secret $NAMESPACE/$SECRET_NAME: HTTP $status"
    echo "hami-certgen: rewrote the incomplete Secret $NAMESPACE/$SECRET_NAME"
  fi
fi

if [ -n "$WEBHOOK_NAME" ]; then
  webhook_path="/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/$WEBHOOK_NAME"
  status="$(api GET "$webhook_path")"
  [ "$status" = 200 ] || fail "GET MutatingWebhookConfiguration $WEBHOOK_NAME: HTTP $status"
  # A JSON patch: a merge patch would replace the whole webhooks list. hami-webhook has one
  # webhook (webhook.yaml).
  printf '[{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":"%s"}]' "$ca" \
    > "$work/body"
  status="$(api PATCH "$webhook_path" application/json-patch+json "$work/body")"
  [ "$status" = 200 ] || fail "patch MutatingWebhookConfiguration $WEBHOOK_NAME: HTTP $status"
  echo "hami-certgen: caBundle of $WEBHOOK_NAME set"
fi
