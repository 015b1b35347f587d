# Shared by the benchmark scripts (sourced, not run): nginx serving the exact bytes the server
# answered on $ROUTE, and wrk runs parsed into one line of figures. Uses the sourcing script's
# TMP, SV_PORT, SERVER_PID, NGINX, NGINX_WORKERS, THREADS, CONNECTIONS and its say/die.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_server: waits for $SERVER_PID to answer /api/v1/live on $SV_PORT (sets SV_URL); dies
# with the server log if it exits or stays silent for 30 s.
wait_for_server() {
  SV_URL="http://127.0.0.1:$SV_PORT"
  up=0
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$SV_URL/api/v1/live" 2>/dev/null; then up=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    echo "--- server log ($TMP/server.log) ---" >&2
    tail -n 50 "$TMP/server.log" >&2 || true
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      rc=0; wait "$SERVER_PID" || rc=$?; SERVER_PID=""
      die "stacyvm serve exited with status $rc before answering /api/v1/live"
    fi
    die "stacyvm did not answer $SV_URL/api/v1/live within 30 s"
  fi
}

# start_static_nginx LABEL: captures $SV_URL$ROUTE into $BODY and serves it with nginx at
# $NG_URL (sets BODY, NG_PORT, NG_URL, NGINX_PID); dies unless nginx serves the same bytes.
start_static_nginx() {
  mkdir -p "$TMP/www${ROUTE%/*}" "$TMP/nginx/logs"
  BODY="$TMP/www$ROUTE"
  curl -fsS -o "$BODY" "$SV_URL$ROUTE" || die "GET $SV_URL$ROUTE failed"
  say "$1 ($(wc -c <"$BODY") bytes): $(head -c 300 "$BODY")"
  # nginx workers may run as an unprivileged user: make the files readable.
  chmod -R a+rX "$TMP/www"
  chmod a+x "$TMP"

  NG_PORT="$(free_port)"
  while [ "$NG_PORT" = "$SV_PORT" ]; do NG_PORT="$(free_port)"; done
  cat >"$TMP/nginx/nginx.conf" <<EOF
  daemon off;
  master_process on;
  worker_processes $NGINX_WORKERS;
  pid $TMP/nginx/nginx.pid;
  error_log $TMP/nginx/logs/error.log error;
  events { worker_connections 4096; }
  http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
      listen 127.0.0.1:$NG_PORT;
      root $TMP/www;
      location = $ROUTE { default_type application/json; }
    }
  }
EOF
  say "starting nginx on port $NG_PORT (worker_processes $NGINX_WORKERS)"
  "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
  NGINX_PID=$!
  NG_URL="http://127.0.0.1:$NG_PORT"
  up=0
  for _ in $(seq 100); do
    if curl -fsS -o "$TMP/nginx-body" "$NG_URL$ROUTE" 2>/dev/null; then up=1; break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    cat "$TMP/nginx/stdout.log" "$TMP/nginx/logs/error.log" >&2 2>/dev/null || true
    die "nginx did not serve $NG_URL$ROUTE"
  fi
  cmp -s "$BODY" "$TMP/nginx-body" || die "nginx does not serve the captured body"
}

# run_wrk LABEL URL SECONDS: runs wrk, saves its output as $TMP/wrk.LABEL.txt
run_wrk() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3"s --latency "$2" >"$TMP/wrk.$1.txt" 2>&1 \
    || { cat "$TMP/wrk.$1.txt" >&2; die "wrk failed against $2"; }
}

# parse LABEL: prints "<requests/s> <p99 in ms> <non-2xx> <socket errors>"
parse() {
  python3 - "$TMP/wrk.$1.txt" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
p99 = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
if not rps or not p99:
    sys.exit("cannot parse wrk output:\n" + text)
scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
sockerr = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(int(x) for x in sockerr.groups()) if sockerr else 0
print(f"{float(rps.group(1)):.2f} {float(p99.group(1)) * scale:.3f} {int(non2xx.group(1)) if non2xx else 0} {errors}")
PY
}
