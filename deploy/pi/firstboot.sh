#!/bin/bash
# Conclave first boot: turns a fresh Raspberry Pi OS Lite / Ubuntu Server arm64 install into
# an agent blade. cloud-init's runcmd (deploy/pi/user-data) runs it once, as root, from the
# boot partition (conclave/firstboot.sh). It reads conclave/blade.env next to it, installs
# Conclave into /opt/conclave/venv (from a wheelhouse, or by compiling when there is none),
# puts the model in place and starts conclave-agent.service.
#
# Every step is logged with the prefix "conclave-firstboot:" to the console,
# /var/log/cloud-init-output.log, /var/log/conclave-firstboot.log and the journal.
# Safe to run again by hand: `sudo CONCLAVE_FIRSTBOOT_FORCE=1 bash /boot/firmware/conclave/firstboot.sh`
#
# CONCLAVE_FIRSTBOOT_ROOT (default empty) prefixes every path it writes, so the tests can run
# it against a scratch directory with stub commands; on a blade it is always unset.
set -euo pipefail
umask 022

ROOT=${CONCLAVE_FIRSTBOOT_ROOT:-}
BOOT_DIR=${CONCLAVE_BOOT_DIR:-}
SERVICE_USER=conclave
VENV=/opt/conclave/venv
STATE_DIR=/var/lib/conclave
CACHE_DIR=/var/cache/conclave
ETC_DIR=/etc/conclave
UNIT_DIR=/etc/systemd/system
LOG_FILE=$ROOT/var/log/conclave-firstboot.log
DONE_MARK=$ROOT$STATE_DIR/.firstboot-done

mkdir -p "$(dirname "$LOG_FILE")"

log() {
    echo "conclave-firstboot: $*" | tee -a "$LOG_FILE"
    logger -t conclave-firstboot -- "$*" 2>/dev/null || true
}

die() {
    log "FAILED: $*"
    exit 1
}

find_boot_dir() {
    if [ -n "$BOOT_DIR" ]; then
        return
    fi
    # Raspberry Pi OS (Bookworm on) and Ubuntu mount the boot partition at /boot/firmware;
    # older images at /boot.
    local dir
    for dir in /boot/firmware/conclave /boot/conclave; do
        if [ -f "$dir/blade.env" ]; then
            BOOT_DIR=$dir
            return
        fi
    done
    die "no conclave/blade.env on the boot partition (/boot/firmware or /boot); was the image made with 'conclave image build'?"
}

# blade.env holds KEY=VALUE lines. It lives on a FAT partition anyone can edit on a laptop,
# so it is parsed, never sourced: a value is data, not shell code. CRLF line ends (an editor
# on Windows) and surrounding quotes are stripped.
AGENT_SETTINGS=()
read_blade_env() {
    local file=$1 line key value
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        case $line in '' | '#'*) continue ;; esac
        if [[ ! $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]]; then
            log "ignoring malformed line in blade.env: $line"
            continue
        fi
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        case $key in
            CONCLAVE_BLADE_NAME) BLADE_NAME=$value ;;
            CONCLAVE_WHEELHOUSE) WHEELHOUSE=$value ;;
            CONCLAVE_MODEL_FILE) MODEL_FILE=$value ;;
            CONCLAVE_MEMORY_MAX) MEMORY_MAX=$value ;;
            CONCLAVE_SWARM) SWARM=$value ;;
            CONCLAVE_AGENT_*) AGENT_SETTINGS+=("$key=$value") ;;
            *) log "ignoring unknown setting $key in blade.env" ;;
        esac
    done <"$file"
}

set_hostname() {
    if [[ ! $BLADE_NAME =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
        die "CONCLAVE_BLADE_NAME '$BLADE_NAME' is not a valid hostname"
    fi
    # cloud-init already set it from meta-data; this covers a hand-copied boot partition.
    if [ "$(hostname)" != "$BLADE_NAME" ]; then
        hostnamectl set-hostname "$BLADE_NAME"
    fi
    log "hostname: $BLADE_NAME (reachable as $BLADE_NAME.local through mDNS)"
}

ensure_user() {
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
    mkdir -p "$ROOT$STATE_DIR/models" "$ROOT$CACHE_DIR/models" "$ROOT$ETC_DIR"
    chown -R "$SERVICE_USER:$SERVICE_USER" "$ROOT$STATE_DIR" "$ROOT$CACHE_DIR"
}

pip_install() {
    "$ROOT$VENV/bin/pip" install --disable-pip-version-check --no-input "$@"
}

install_conclave() {
    if [ ! -x "$ROOT$VENV/bin/python" ]; then
        log "creating the virtual environment $VENV"
        python3 -m venv "$ROOT$VENV"
    fi
    local source=${WHEELHOUSE:-}
    case $source in
        http://* | https://*)
            log "installing Conclave from the wheelhouse at $source (no compiling)"
            pip_install --no-index --find-links "$source" conclave
            return
            ;;
        '') ;;
        *)
            [[ $source == /* ]] || source=$BOOT_DIR/$source
            if compgen -G "$source/conclave-*.whl" >/dev/null; then
                log "installing Conclave from the wheelhouse $source (no compiling)"
                pip_install --no-index --find-links "$source" conclave
                return
            fi
            log "wheelhouse $source has no conclave wheel"
            ;;
    esac
    local src=$BOOT_DIR/src wheel
    wheel=$(compgen -G "$src/conclave-*.whl" | head -n 1 || true)
    if [ ! -f "$src/requirements.lock" ] || [ -z "$wheel" ]; then
        die "no wheelhouse and no $src/requirements.lock + conclave wheel: rebuild the image with 'conclave image build'"
    fi
    log "no wheelhouse: compiling llama-cpp-python from source on this blade."
    log "this needs the network and takes 30-90 minutes on a Raspberry Pi; a wheelhouse avoids it (docs/deploy.md)"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) pip_install -r "$src/requirements.lock"
    pip_install --no-deps "$wheel"
    log "compiled and installed Conclave from source"
}

install_model() {
    MODEL_PATH=
    if [ -n "${MODEL_FILE:-}" ]; then
        local source=$BOOT_DIR/$MODEL_FILE
        [ -f "$source" ] || die "model $source named in blade.env does not exist"
        MODEL_PATH=$STATE_DIR/models/$(basename "$MODEL_FILE")
        log "copying the model $(basename "$MODEL_FILE") to $MODEL_PATH"
        install -m 0644 "$source" "$ROOT$MODEL_PATH"
        chown "$SERVICE_USER:$SERVICE_USER" "$ROOT$MODEL_PATH"
        return
    fi
    # The bundled model ships inside the installed packages; assembling it now (as the
    # service user, into the unit's cache directory) keeps the first start short. The
    # agent does the same on start if this step is skipped or fails.
    log "assembling the bundled model into $CACHE_DIR/models"
    if runuser -u "$SERVICE_USER" -- "$ROOT$VENV/bin/python" -c \
        'import sys; from pathlib import Path; from conclave.services.model_source import bundled_model; print(bundled_model(Path(sys.argv[1])).path)' \
        "$CACHE_DIR/models"; then
        log "bundled model ready"
    else
        log "could not assemble the bundled model now; the agent will on its first start"
    fi
}

# The swarm's token and this blade's certificates (`conclave image build --swarm DIR`)
# move from the FAT boot partition, which anyone with the SD card can read, to
# /etc/conclave/swarm, readable by root and the service only; the boot copies are deleted.
SWARM_SETTINGS=()
install_swarm() {
    [ -n "${SWARM:-}" ] || return 0
    local source=$BOOT_DIR/$SWARM dest=$ETC_DIR/swarm name
    [ -f "$source/token" ] || die "the swarm folder $source named in blade.env has no token"
    install -d -m 0750 "$ROOT$dest"
    chown "root:$SERVICE_USER" "$ROOT$dest"
    for name in token ca.pem agent.pem agent.key; do
        [ -f "$source/$name" ] || continue
        install -m 0640 "$source/$name" "$ROOT$dest/$name"
        chown "root:$SERVICE_USER" "$ROOT$dest/$name"
        rm -f "$source/$name"
    done
    SWARM_SETTINGS+=("CONCLAVE_AGENT_SWARM_TOKEN_FILE=$dest/token")
    if [ -f "$ROOT$dest/ca.pem" ]; then
        [ -f "$ROOT$dest/agent.pem" ] && [ -f "$ROOT$dest/agent.key" ] ||
            die "the swarm folder has ca.pem but not agent.pem and agent.key"
        SWARM_SETTINGS+=(
            "CONCLAVE_AGENT_SWARM_CA=$dest/ca.pem"
            "CONCLAVE_AGENT_SWARM_CERT=$dest/agent.pem"
            "CONCLAVE_AGENT_SWARM_KEY=$dest/agent.key"
        )
        log "swarm: token and mTLS certificates installed in $dest"
    else
        log "swarm: token installed in $dest (no TLS)"
    fi
}

write_agent_env() {
    local file=$ROOT$ETC_DIR/agent.env
    {
        echo "# Written by conclave-firstboot from blade.env. Edit, then: systemctl restart conclave-agent"
        echo "CONCLAVE_AGENT_NAME=$BLADE_NAME"
        echo "CONCLAVE_AGENT_HOST=0.0.0.0"
        echo "CONCLAVE_AGENT_ANNOUNCE=true"
        if [ -n "$MODEL_PATH" ]; then
            echo "CONCLAVE_AGENT_MODEL=$MODEL_PATH"
        fi
        if [ ${#SWARM_SETTINGS[@]} -gt 0 ]; then
            printf '%s\n' "${SWARM_SETTINGS[@]}"
        fi
        if [ ${#AGENT_SETTINGS[@]} -gt 0 ]; then
            printf '%s\n' "${AGENT_SETTINGS[@]}"
        fi
    } >"$file"
    chmod 0640 "$file"
    chown "root:$SERVICE_USER" "$file"
    log "agent settings written to $ETC_DIR/agent.env"
}

install_unit() {
    mkdir -p "$ROOT$UNIT_DIR"
    install -m 0644 "$BOOT_DIR/conclave-agent.service" "$ROOT$UNIT_DIR/conclave-agent.service"
    # systemd reads MemoryMax= only from unit files, so the blade's cap is a drop-in.
    local dropin=$ROOT$UNIT_DIR/conclave-agent.service.d
    if [ -n "${MEMORY_MAX:-}" ]; then
        mkdir -p "$dropin"
        printf '[Service]\nMemoryMax=%s\n' "$MEMORY_MAX" >"$dropin/memory.conf"
        log "agent memory cap: MemoryMax=$MEMORY_MAX"
    fi
    systemctl daemon-reload
    systemctl enable conclave-agent.service
}

install_ssh_keys() {
    local keys=$BOOT_DIR/authorized_keys user home
    [ -f "$keys" ] || return 0
    # The default login user (pi, ubuntu, ...) is the first regular account cloud-init made.
    user=$(getent passwd 1000 | cut -d: -f1 || true)
    if [ -z "$user" ]; then
        log "no login user with uid 1000; SSH keys not installed"
        return 0
    fi
    home=$(getent passwd "$user" | cut -d: -f6)
    mkdir -p "$ROOT$home/.ssh"
    touch "$ROOT$home/.ssh/authorized_keys"
    local key
    while IFS= read -r key || [ -n "$key" ]; do
        key=${key%$'\r'}
        [ -n "$key" ] || continue
        grep -qxF -- "$key" "$ROOT$home/.ssh/authorized_keys" ||
            echo "$key" >>"$ROOT$home/.ssh/authorized_keys"
    done <"$keys"
    chmod 0700 "$ROOT$home/.ssh"
    chmod 0600 "$ROOT$home/.ssh/authorized_keys"
    chown -R "$user:$user" "$ROOT$home/.ssh"
    systemctl enable --now ssh.service || log "could not enable ssh.service"
    log "SSH keys installed for $user"
}

start_agent() {
    log "starting conclave-agent (returns once the model is loaded and health is SERVING)"
    if ! systemctl start conclave-agent.service; then
        die "conclave-agent did not become healthy; see: journalctl -u conclave-agent"
    fi
    log "conclave-agent is ready on port 50051; check it from any machine with:"
    log "  conclave agent call --addr $BLADE_NAME.local:50051 \"hello\""
    if [ ${#SWARM_SETTINGS[@]} -gt 0 ]; then
        log "  (with the swarm's token and certificates: CONCLAVE_SWARM_TOKEN_FILE, CONCLAVE_SWARM_CA, ...)"
    fi
}

main() {
    if [ -e "$DONE_MARK" ] && [ -z "${CONCLAVE_FIRSTBOOT_FORCE:-}" ]; then
        log "already done ($DONE_MARK exists); set CONCLAVE_FIRSTBOOT_FORCE=1 to run again"
        return 0
    fi
    find_boot_dir
    log "starting with $BOOT_DIR/blade.env"
    BLADE_NAME='' WHEELHOUSE='' MODEL_FILE='' MEMORY_MAX='' SWARM=''
    read_blade_env "$BOOT_DIR/blade.env"
    [ -n "$BLADE_NAME" ] || die "blade.env sets no CONCLAVE_BLADE_NAME"
    set_hostname
    ensure_user
    install_conclave
    install_model
    install_swarm
    write_agent_env
    install_unit
    install_ssh_keys
    start_agent
    touch "$DONE_MARK"
    log "done"
}

main "$@"
