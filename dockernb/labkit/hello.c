/* The lab kit's hello-world: a static program, like Docker's, that says what the engine did.
 * Built with `gcc -static -Os` by dockernb.labkit; the image holds only this file as /hello. */
#include <unistd.h>
#include <string.h>

static const char message[] =
    "\n"
    "Hello from dockernb!\n"
    "This message shows that your installation appears to be working correctly.\n"
    "\n"
    "To generate this message, dockernb took the following steps:\n"
    " 1. The dockernb client (the CLI, a %docker magic or the Engine API) asked the\n"
    "    engine, which runs inside your own process: there is no daemon.\n"
    " 2. The engine pulled the \"hello-world\" image from a registry (offline, the\n"
    "    lab kit's local registry stands in for Docker Hub).\n"
#if defined(__x86_64__)
    "    (amd64)\n"
#elif defined(__aarch64__)
    "    (arm64v8)\n"
#endif
    " 3. The engine unpacked the image's layers into a snapshot and created a new\n"
    "    container from it: new namespaces, its own root filesystem, and this\n"
    "    program as process 1.\n"
    " 4. The engine streamed this program's output to the client, which sent it\n"
    "    to your terminal or notebook.\n"
    "\n"
    "To try something more ambitious, you can run a Debian container with:\n"
    " $ dockernb run -it debian:bookworm bash\n"
    "\n";

int main(void) {
    size_t left = sizeof(message) - 1;
    const char *p = message;
    while (left > 0) {
        ssize_t n = write(1, p, left);
        if (n <= 0) return 1;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}
