# Environment the scheduler tests (and a server using these services) need.
# Usage: . scripts/services/env.sh      (safe to source more than once)

export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine}
export SGE_CELL=${SGE_CELL:-default}
export DRMAA_LIBRARY_PATH=${DRMAA_LIBRARY_PATH:-/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0}
# Grid Engine's libdrmaa links libjemalloc, which needs more static TLS than glibc reserves for
# dlopen()ed libraries; without this `import drmaa` fails with "cannot allocate memory in static
# TLS block".  It must be in the environment before the Python process starts.
case ":${GLIBC_TUNABLES:-}:" in
  *optional_static_tls*) ;;
  *) export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.rtld.optional_static_tls=2048 ;;
esac
# Slurm's Torque wrappers (qsub/qstat/qdel), unpacked aside because they conflict with gridengine-client.
export LWR_TORQUE_WRAPPER_DIR=${LWR_TORQUE_WRAPPER_DIR:-/opt/lwr-slurm-torque/usr/bin}
# Private sshd on 127.0.0.1:2222; use with `ssh -F "$LWR_TEST_SSH_CONFIG" lwr-test-ssh CMD`.
export LWR_TEST_SSHD_DIR=${LWR_TEST_SSHD_DIR:-/var/lib/lwr-test-sshd}
export LWR_TEST_SSH_CONFIG=${LWR_TEST_SSH_CONFIG:-$LWR_TEST_SSHD_DIR/ssh_config}
export LWR_TEST_SSH_PORT=${LWR_TEST_SSH_PORT:-2222}
