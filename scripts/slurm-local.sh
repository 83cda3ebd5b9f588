#!/usr/bin/env bash
# A real one-node SLURM cluster (munged + slurmctld + slurmd, Debian slurm-wlm 22.05) for testing
# `snakemake --profile slurm` on one machine, as root, without systemd.
#
#   scripts/slurm-local.sh up       install slurm-wlm + munge if missing, write the config, start the daemons,
#                                   wait until the node is idle (a no-op when the cluster is already up)
#   scripts/slurm-local.sh down     cancel all jobs, stop the daemons by PID, unlink /etc/slurm; PURGE=1 also
#                                   wipes the state dir
#   scripts/slurm-local.sh status   daemons, node state and queue; exit 0 when the cluster is up, 3 when not
#
# Environment:
#   GROKMON_SLURM_DIR   state dir: config, PID files, logs, spool (default /tmp/grokmon-slurm)
#   GROKMON_SLURM_GPUS  number of fake GPUs, GRES gpu of type "fake", each a symlink to /dev/null (default 2:
#                       with 2 CPUs, two GPU jobs then run at the same time)
#   PURGE=1             `down` also removes the state dir
# Exit codes: 0 done; 1 failed (message on stderr); 2 this machine cannot host it (not root, no apt-get);
#             3 `status` of a cluster that is not up.
# Clients find the cluster through /etc/slurm/slurm.conf, linked to the state dir when that path is free;
# otherwise `export SLURM_CONF=$GROKMON_SLURM_DIR/etc/slurm.conf` (`status` prints the line).
set -euo pipefail

STATE=${GROKMON_SLURM_DIR:-/tmp/grokmon-slurm}
GPUS=${GROKMON_SLURM_GPUS:-2}
CONF_DIR=$STATE/etc
RUN=$STATE/run
export SLURM_CONF=$CONF_DIR/slurm.conf
NODE=$(hostname -s)

die() { echo "slurm-local: $*" >&2; exit 1; }
unusable() { echo "slurm-local: cannot host a cluster here: $*" >&2; exit 2; }
log() { echo "slurm-local: $*"; }

require_root() { [[ $(id -u) -eq 0 ]] || unusable "must run as root (daemons, apt-get, munge user)"; }

# alive NAME: true when $RUN/NAME.pid holds the PID of a running process called NAME.
alive() {
    local pidfile=$RUN/$1.pid pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$1" ]]
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds; false on timeout.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# installed: true when every daemon and client this script uses is on the PATH.
installed() {
    local tool
    for tool in slurmctld slurmd sinfo squeue scancel munged munge unmunge; do
        command -v "$tool" >/dev/null || return 1
    done
}

install_packages() {
    installed && return 0
    command -v apt-get >/dev/null || unusable "slurm-wlm/munge are not installed and there is no apt-get (Debian/Ubuntu only)"
    log "installing slurm-wlm and munge"
    local guard=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        # Keep apt from starting the services itself: this script starts them with its own config.
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$guard"
        chmod +x "$guard"
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    [[ -z $guard ]] || rm -f "$guard"
    installed || die "apt-get did not install slurm-wlm and munge completely"
}

write_config() {
    local cpus mem_mb i
    cpus=$(getconf _NPROCESSORS_ONLN)   # not nproc: it obeys OMP_NUM_THREADS, which the Makefile pins to 1
    mem_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    mkdir -p "$CONF_DIR" "$RUN" "$STATE/log" "$STATE/ctld" "$STATE/spool" "$STATE/dev"
    cat >"$CONF_DIR/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: one node, fake GPUs, no accounting, no cgroups.
ClusterName=grokmon
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job that gives no --mem takes the whole node.
DefMemPerCPU=1024
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for an hour: the snakemake plugin's squeue status check needs
# MinJobAge >= 3 x its init-seconds-before-status-checks, or it falls back to sacct, which hangs here.
MinJobAge=3600
ReturnToService=2
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:fake:$GPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # A GPU needs a device file, or slurmd drops it; a symlink to /dev/null is one (CUDA_VISIBLE_DEVICES works).
    rm -f "$STATE"/dev/fakegpu*
    {
        echo "AutoDetect=off"
        for ((i = 0; i < GPUS; i++)); do
            ln -s /dev/null "$STATE/dev/fakegpu$i"
            echo "NodeName=$NODE Name=gpu Type=fake File=$STATE/dev/fakegpu$i"
        done
    } >"$CONF_DIR/gres.conf"
    link_system_config
}

# Link /etc/slurm/{slurm,gres}.conf to the state dir when free, so clients need no SLURM_CONF.
link_system_config() {
    local f
    mkdir -p /etc/slurm
    for f in slurm.conf gres.conf; do
        if [[ -L /etc/slurm/$f || ! -e /etc/slurm/$f ]]; then
            ln -sfn "$CONF_DIR/$f" "/etc/slurm/$f"
        else
            log "/etc/slurm/$f belongs to another setup: export SLURM_CONF=$SLURM_CONF"
        fi
    done
}

unlink_system_config() {
    local f
    for f in slurm.conf gres.conf; do
        if [[ -L /etc/slurm/$f && $(readlink "/etc/slurm/$f") == "$CONF_DIR/$f" ]]; then
            rm -f "/etc/slurm/$f"
        fi
    done
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_works; then
        return 0   # ours (alive munged) or the machine's own munged
    fi
    [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    mkdir -p /run/munge
    chown munge:munge /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged
    wait_for 10 test -s /run/munge/munged.pid || die "munged did not start (see /var/log/munge/munged.log)"
    cp /run/munge/munged.pid "$RUN/munged.pid"
    wait_for 10 munge_works || die "munged runs but munge/unmunge fail (see /var/log/munge/munged.log)"
}

node_state() { sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null; }

node_ready() { [[ $(node_state) =~ ^(idle|mixed|allocated)$ ]]; }

cmd_up() {
    require_root
    [[ $GPUS =~ ^[1-9][0-9]*$ ]] || die "GROKMON_SLURM_GPUS must be a positive integer, got '$GPUS'"
    if alive slurmctld && alive slurmd && node_ready; then
        log "already up (state dir $STATE)"
        return 0
    fi
    install_packages
    write_config
    start_munge
    alive slurmctld || slurmctld -f "$SLURM_CONF" || die "slurmctld failed (see $STATE/log/slurmctld.log)"
    alive slurmd || slurmd -f "$SLURM_CONF" || die "slurmd failed (see $STATE/log/slurmd.log)"
    if ! wait_for 30 node_ready; then
        sinfo --list-reasons >&2 || true
        die "node $NODE is '$(node_state)', not idle, after 30 s (see $STATE/log/); PURGE=1 $0 down clears old state"
    fi
    log "up: node $NODE idle, $(nproc) CPUs, $GPUS fake GPU(s), partition debug (state dir $STATE)"
}

# stop NAME: SIGTERM the daemon from its PID file, wait for it to exit (SIGKILL after 20 s).
stop() {
    local pid
    alive "$1" || { rm -f "$RUN/$1.pid"; return 0; }
    pid=$(<"$RUN/$1.pid")
    kill -TERM "$pid"
    if ! wait_for 20 eval "! kill -0 $pid 2>/dev/null"; then
        log "$1 ($pid) ignored SIGTERM for 20 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$1.pid"
}

queue_empty() { [[ -z $(squeue --noheader --states=pending,running,completing,suspended --format=%i 2>/dev/null) ]]; }

cmd_down() {
    require_root
    if alive slurmctld; then
        squeue --noheader --format=%i | xargs -r scancel || true
        wait_for 10 queue_empty || log "jobs still listed after 10 s; stopping anyway"
    fi
    stop slurmd
    stop slurmctld
    stop munged   # only a munged this script started has a PID file in the state dir
    # A link left to a stopped cluster makes every SLURM client wait for its controller: `scontrol show config`
    # then takes 9 s, and the snakemake SLURM plugin runs it whenever snakemake starts, with any executor.
    unlink_system_config
    if [[ ${PURGE:-0} == 1 ]]; then
        rm -rf "$STATE"
        log "down; state dir $STATE removed"
    else
        log "down (state kept in $STATE; PURGE=1 removes it)"
    fi
}

cmd_status() {
    local name up=0
    for name in munged slurmctld slurmd; do
        if alive "$name"; then
            echo "$name: running (pid $(<"$RUN/$name.pid"))"
        else
            echo "$name: not running"
        fi
    done
    echo "export SLURM_CONF=$SLURM_CONF"
    if alive slurmctld && alive slurmd; then
        sinfo --Node --long || true
        squeue || true
        node_ready || up=3
    else
        up=3
    fi
    return "$up"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
    echo "usage: $0 up|down|status   (env: GROKMON_SLURM_DIR, GROKMON_SLURM_GPUS, PURGE=1 for down)" >&2
    exit 64
    ;;
esac
