/* A static probe run inside test containers: tries system calls a container must not get and
 * prints "<name> <result>" per line, where result is "ok" or the errno name. Built by the test
 * session with the host's gcc (tests/integration/runtime/conftest.py).
 *
 * Every call is made harmless even where it is allowed (nonexistent paths, bad magic numbers),
 * and the probe refuses to run in the pid namespace whose inode it is given (the host's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <linux/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno));
    else printf("%s ok\n", name);
    fflush(stdout);
}

static int child_fn(void *arg) { (void)arg; return 0; }

static void syscalls(void) {
    report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    report("add_key", syscall(SYS_add_key, "user", "dockernb", "x", 1, KEY_SPEC_SESSION_KEYRING));
    report("request_key", syscall(SYS_request_key, "user", "dockernb", NULL, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("finit_module", syscall(SYS_finit_module, -1, "", 0));
    report("delete_module", syscall(SYS_delete_module, "dockernb_none", 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
    report("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, 0, NULL)); /* bad magic2: EINVAL if allowed */
    report("swapon", syscall(SYS_swapon, "/dockernb-none", 0));
    report("swapoff", syscall(SYS_swapoff, "/dockernb-none"));
    report("mount", mount("none", "/dockernb-none", "tmpfs", 0, NULL));
    report("umount2", umount2("/dockernb-none", MNT_DETACH));
    report("unshare_user", unshare(CLONE_NEWUSER));
    report("unshare_ns", unshare(CLONE_NEWNS));
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0);
    report("clone_newuser", pid);
    report("clone3", syscall(SYS_clone3, NULL, 0));
    report("setns", setns(0, 0));
    report("pivot_root", syscall(SYS_pivot_root, "/dockernb-none", "/dockernb-none"));
    report("chroot_allowed", chroot("/"));
    report("syslog", syscall(SYS_syslog, 3, NULL, 0));
    report("acct", acct("/dockernb-none"));
    report("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
    report("personality_bad", syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */));
    report("socket_vsock", syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0));
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("iopl", syscall(SYS_iopl, 3));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    (void)child_fn;
}

/* mknod a block device and try to read it: the host's disk through a node the container made */
static void device(const char *path, unsigned maj, unsigned min) {
    long rc = mknod(path, S_IFBLK | 0600, makedev(maj, min));
    report("mknod", rc);
    int fd = open(path, O_RDONLY);
    report("open_device", fd);
    if (fd >= 0) {
        char buf[512];
        report("read_device", read(fd, buf, sizeof buf));
        close(fd);
    }
}

int main(int argc, char **argv) {
    struct stat st;
    if (argc < 3 || stat("/proc/self/ns/pid", &st) != 0 || (unsigned long)st.st_ino == strtoul(argv[1], NULL, 10)) {
        fprintf(stderr, "probe: refusing to run outside a container (give the host's pid ns inode first)\n");
        return 3;
    }
    argc--; argv++;
    if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) syscalls();
    else if (argc >= 5 && strcmp(argv[1], "device") == 0) device(argv[2], atoi(argv[3]), atoi(argv[4]));
    else if (argc >= 3 && strcmp(argv[1], "ptrace") == 0) report("ptrace_attach", ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));
    else if (argc >= 3 && strcmp(argv[1], "kill") == 0) report("kill0", kill(atoi(argv[2]), 0));
    else { fprintf(stderr, "usage: probe syscalls | device PATH MAJOR MINOR | ptrace PID | kill PID\n"); return 2; }
    return 0;
}
