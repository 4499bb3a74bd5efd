#!/usr/bin/env bash
# Builds the contact center's container images on a machine that reaches a Debian mirror and PyPI
# but no image registry (no `FROM debian:...` pull): the base images are root file systems made
# with debootstrap and imported with `docker import`, and the project's images are built FROM them.
#
#   scripts/docker_build.sh            as root; installs docker.io + docker-compose if missing,
#                                      starts dockerd if it is not running, builds everything
#   IMAGE_TAG=x scripts/docker_build.sh   tag the project's images x (default: latest)
#
# Cached outside the clone, in $CALLCENTER_DOCKER_CACHE (default /var/cache/callcenter/docker):
# the Debian 12 root (roots/bookworm) is made once; a base image is imported only when it is
# missing; Docker's layer cache makes a second build of an unchanged image a no-op. The Asterisk
# base is the sandbox's cached Debian sid root (/var/cache/callcenter/asterisk-root, made by
# scripts/setup.sh), so Asterisk in the container is the version the tests run against.
#
# Images (docker/compose.cluster.yml runs them; docs/deployment.md):
#   callcenter-root:bookworm     Debian 12 minbase + python3, python3-venv (imported root)
#   callcenter-root:sid          the sandbox's Debian sid root with Asterisk (imported root)
#   callcenter-base:bookworm, callcenter-base:sid    the roots + an apt setting (see base_image)
#   callcenter-server:TAG        docker/server/Dockerfile      FROM callcenter-base:bookworm
#   callcenter-asterisk:TAG      docker/asterisk/Dockerfile    FROM callcenter-base:sid
#   callcenter-postgres:TAG      docker/postgres/Dockerfile    Debian 12's postgresql-15
#   callcenter-redis:TAG         docker/redis/Dockerfile       Debian 12's redis-server
#   callcenter-kamailio:TAG      docker/kamailio/Dockerfile    Debian 12's kamailio
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CALLCENTER_DOCKER_CACHE:-/var/cache/callcenter/docker}"
sid_root="${CALLCENTER_SID_ROOT:-/var/cache/callcenter/asterisk-root}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
tag="${IMAGE_TAG:-latest}"
# Debian's client (20.10) drives Debian's daemon with BuildKit built in; a newer client elsewhere
# on PATH would need the buildx plugin for BuildKit.
docker=/usr/bin/docker
dockerd_log="${DOCKERD_LOG:-/var/log/callcenter/dockerd.log}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
elapsed() { printf '%ss' "$((SECONDS - $1))"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/docker_build.sh must run as root (packages, dockerd, debootstrap)" >&2
  exit 1
fi
started=$SECONDS

# --- the engine ------------------------------------------------------------------------------
missing=()
for p in docker.io docker-compose debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "Installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
if ! "$docker" info >/dev/null 2>&1; then
  say "Starting dockerd in the background (log: $dockerd_log)"
  mkdir -p "$(dirname "$dockerd_log")"
  setsid nohup /usr/sbin/dockerd >>"$dockerd_log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    "$docker" info >/dev/null 2>&1 && break
    sleep 0.5
  done
  "$docker" info >/dev/null 2>&1 || { echo "dockerd did not start; see $dockerd_log" >&2; exit 1; }
fi

# --- base images from root file systems --------------------------------------------------------
have_image() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# The machine's own extra certificate authorities (e.g. a TLS-inspecting egress proxy's) go into
# the roots, so that pip in a build trusts what the host trusts. Nothing else of the host does.
add_local_cas() {
  local root=$1
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
}

import_root() {  # import_root ROOT IMAGE
  local root=$1 image=$2 t=$SECONDS
  say "Importing $root as $image"
  # --one-file-system: nothing mounted into the root (proc of a running sandbox) is taken;
  # srv/callcenter: the sandbox's instances (their configuration and state) stay out.
  tar -C "$root" --one-file-system --exclude=./srv/callcenter/* --exclude=./proc/* \
      --exclude=./sys/* --exclude=./tmp/* -c . \
    | "$docker" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' - "$image" >/dev/null
  echo "    imported in $(elapsed "$t")"
}

bookworm="$cache/roots/bookworm"
if [[ ! -f "$bookworm/.callcenter-complete" ]]; then
  t=$SECONDS
  say "debootstrap Debian 12 (bookworm, minbase) into $bookworm"
  rm -rf "$bookworm.tmp"
  mkdir -p "$cache/roots"
  nice -n 10 debootstrap --variant=minbase \
      --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$bookworm.tmp" "$mirror" >"$cache/roots/bookworm.log" 2>&1 \
    || { tail -20 "$cache/roots/bookworm.log" >&2; exit 1; }
  add_local_cas "$bookworm.tmp"
  chroot "$bookworm.tmp" apt-get clean
  rm -rf "$bookworm"
  mv "$bookworm.tmp" "$bookworm"
  touch "$bookworm/.callcenter-complete"
  echo "    made in $(elapsed "$t")"
fi
# The root as imported (callcenter-root:NAME), then callcenter-base:NAME with one site setting: the
# Debian mirror these machines reach serves a dated snapshot whose Release files are past their
# Valid-Until (sid's above all), so apt must not refuse them (as callcenter.asterisk.sandbox does).
base_image() {  # base_image ROOT NAME
  local root=$1 name=$2
  have_image "callcenter-root:$name" || import_root "$root" "callcenter-root:$name"
  if ! have_image "callcenter-base:$name"; then
    say "callcenter-base:$name (apt: Check-Valid-Until false)"
    printf '%s\n' "FROM callcenter-root:$name" \
      "RUN echo 'Acquire::Check-Valid-Until \"false\";' >/etc/apt/apt.conf.d/99callcenter-snapshot" \
      | DOCKER_BUILDKIT=1 "$docker" build -q -t "callcenter-base:$name" - >/dev/null
  fi
}

base_image "$bookworm" bookworm
if ! have_image callcenter-base:sid; then
  if [[ ! -x "$sid_root/usr/sbin/asterisk" ]]; then
    echo "no Asterisk root in $sid_root: run scripts/setup.sh first (it builds the sandbox root)" >&2
    exit 1
  fi
fi
base_image "$sid_root" sid

# --- the project's images ----------------------------------------------------------------------
build() {  # build NAME DOCKERFILE BUILD-ARG...
  local name=$1 dockerfile=$2 t=$SECONDS
  shift 2
  local args=()
  for a in "$@"; do args+=(--build-arg "$a"); done
  say "Building $name:$tag ($dockerfile)"
  # Host network: apt and pip in the build reach the mirror / PyPI the way the host does.
  (cd "$here" && DOCKER_BUILDKIT=1 nice -n 10 "$docker" build --network host --progress plain \
      "${args[@]}" -f "$dockerfile" -t "$name:$tag" .) >"$cache/build-$name.log" 2>&1 \
    || { tail -40 "$cache/build-$name.log" >&2; echo "build of $name failed: $cache/build-$name.log" >&2; exit 1; }
  echo "    built in $(elapsed "$t") ($("$docker" image inspect -f '{{.Size}}' "$name:$tag" \
       | awk '{printf "%.0f MB", $1/1e6}'))"
}

build callcenter-server docker/server/Dockerfile PYTHON_IMAGE=callcenter-base:bookworm
build callcenter-asterisk docker/asterisk/Dockerfile DEBIAN_IMAGE=callcenter-base:sid
build callcenter-postgres docker/postgres/Dockerfile DEBIAN_IMAGE=callcenter-base:bookworm
build callcenter-redis docker/redis/Dockerfile DEBIAN_IMAGE=callcenter-base:bookworm
build callcenter-kamailio docker/kamailio/Dockerfile DEBIAN_IMAGE=callcenter-base:bookworm

say "Done in $(elapsed "$started")"
"$docker" image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^callcenter-' | sort
