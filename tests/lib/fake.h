/* fake.h: for C tests that need a server: pick a free loopback port in 20000-29999 and run one
 * of the Python fakes in tests/fakes/ on it, waiting until it says "ready". Header-only. */
#ifndef DRWATCH_TEST_FAKE_H
#define DRWATCH_TEST_FAKE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* A port free for both TCP and UDP on 127.0.0.1, or 0. */
static int __attribute__((unused)) fake_free_port(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + rand() % 10000, free_both = 1;
        int types[2] = {SOCK_STREAM, SOCK_DGRAM};
        for (int t = 0; t < 2; t++) {
            int fd = socket(AF_INET, types[t], 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) free_both = 0;
            close(fd);
        }
        if (free_both) return port;
    }
    return 0;
}

/* Runs argv (a server that prints "ready" on stdout once it serves) in its own process
 * group and waits for that line. Returns the pid, or -1. */
static pid_t __attribute__((unused)) spawn_ready(char *const argv[])
{
    int pipefd[2];
    if (pipe(pipefd) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    char line[64] = "";
    FILE *f = fdopen(pipefd[0], "r");
    if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "ready", 5) != 0) {
        if (f) fclose(f);
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    fclose(f);
    return pid;
}

/* Starts `python3 tests/fakes/<script> <port> [args...]`; args is NULL or ends with NULL
 * (at most 12). */
static pid_t __attribute__((unused))
fake_start_args(const char *script, int port, char *const args[])
{
    char portbuf[16], path[256];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    snprintf(path, sizeof(path), "tests/fakes/%s", script);
    char *argv[16] = {"python3", path, portbuf};
    for (size_t i = 0; args && args[i] && i < 12; i++) argv[3 + i] = args[i];
    return spawn_ready(argv);
}

/* Starts `python3 tests/fakes/<script> <port>`. */
static pid_t __attribute__((unused)) fake_start(const char *script, int port)
{
    return fake_start_args(script, port, NULL);
}

/* POSTs json to a fakebase control endpoint (/__fake/<endpoint>) of the fake on port, over
 * scheme (http, or https without verifying the certificate). */
static void __attribute__((unused))
fake_control(int port, const char *scheme, const char *endpoint, const char *json)
{
    char *cmd;
    if (asprintf(&cmd, "curl -sk -o /dev/null -X POST -d '%s' %s://127.0.0.1:%d/__fake/%s", json,
                 scheme, port, endpoint) < 0) {
        diag("control %s failed", endpoint);
        return;
    }
    if (system(cmd) != 0) diag("control %s failed", endpoint);
    free(cmd);
}

static void __attribute__((unused)) fake_stop(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    kill(-pid, SIGKILL); /* anything the server left behind in its group */
}

#endif
