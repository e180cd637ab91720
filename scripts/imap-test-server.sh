#!/bin/sh
# Throwaway Dovecot IMAP server for tests (Debian package dovecot-imapd). Run as root.
# From ../shared/notes/dovecot.md. Adapted: AUTH_FAILURE_DELAY (default Dovecot's 2s); dovecot's stdio goes
# to files and start waits for the pid file (both needed when the caller captures output, as pytest does).
#   imap-test-server.sh start STATE_DIR   # prints the master pid; ready when it returns
#   imap-test-server.sh stop  STATE_DIR   # SIGTERM to the master pid, waits until it is gone (~3 s)
# Listens on 127.0.0.1 only: $IMAP_PORT (plain + STARTTLS), $IMAPS_PORT (implicit TLS).
# Mail lives in $STATE_DIR/home/$IMAP_USER/Maildir (INBOX = cur/new/tmp, folder "Sent" = .Sent/).
# Keep STATE_DIR out of root's home: the auth process (user dovecot) must traverse every parent directory.
set -eu
cmd=${1:-}
[ $# -ge 2 ] || { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
STATE_DIR=$(realpath -m "$2")
IMAP_PORT=${IMAP_PORT:-10143}
IMAPS_PORT=${IMAPS_PORT:-10993}
IMAP_USER=${IMAP_USER:-manager@example.test}
IMAP_PASS=${IMAP_PASS:-secret}
MAIL_OWNER=${MAIL_OWNER:-nobody}   # Dovecot refuses uid 0 for mail access
AUTH_FAILURE_DELAY=${AUTH_FAILURE_DELAY:-2s}

case $cmd in
start)
  mkdir -p "$STATE_DIR/run" "$STATE_DIR/state" "$STATE_DIR/tls" "$STATE_DIR/home/$IMAP_USER"
  chmod 755 "$STATE_DIR"   # auth runs as user 'dovecot', mail as $MAIL_OWNER: both must traverse it
  if [ ! -s "$STATE_DIR/tls/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$STATE_DIR/tls/key.pem" -out "$STATE_DIR/tls/cert.pem" 2>/dev/null
  fi
  printf '%s:{PLAIN}%s\n' "$IMAP_USER" "$IMAP_PASS" > "$STATE_DIR/passwd"
  chown -R "$MAIL_OWNER:" "$STATE_DIR/home"
  cat > "$STATE_DIR/dovecot.conf" <<CONF
base_dir = $STATE_DIR/run
state_dir = $STATE_DIR/state
log_path = $STATE_DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
auth_failure_delay = $AUTH_FAILURE_DELAY

ssl_cert = <$STATE_DIR/tls/cert.pem
ssl_key = <$STATE_DIR/tls/key.pem

passdb {
  driver = passwd-file
  args = scheme=PLAIN $STATE_DIR/passwd
}
userdb {
  driver = static
  args = uid=$(id -u "$MAIL_OWNER") gid=$(id -g "$MAIL_OWNER") home=$STATE_DIR/home/%u
}
mail_location = maildir:~/Maildir

service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
CONF
  rm -f "$STATE_DIR/run/master.pid"
  # Binds both ports, then daemonizes; fails fast if a port is taken. The daemon keeps the stderr it was
  # started with open, so a caller reading our stderr through a pipe would wait forever: use a file.
  if ! dovecot -c "$STATE_DIR/dovecot.conf" </dev/null >/dev/null 2>"$STATE_DIR/startup.err"; then
    cat "$STATE_DIR/startup.err" >&2
    exit 1
  fi
  i=0
  while [ ! -s "$STATE_DIR/run/master.pid" ]; do   # the daemonized master writes it a moment after we return
    i=$((i + 1)); [ "$i" -le 100 ] || { echo "dovecot wrote no $STATE_DIR/run/master.pid" >&2; exit 1; }
    sleep 0.02
  done
  cat "$STATE_DIR/run/master.pid"
  ;;
stop)
  pid=$(cat "$STATE_DIR/run/master.pid")
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null; do   # master needs ~3 s; starting again before that fails
    i=$((i + 1)); [ "$i" -le 200 ] || { echo "dovecot $pid still running" >&2; exit 1; }
    sleep 0.05
  done
  ;;
*) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
