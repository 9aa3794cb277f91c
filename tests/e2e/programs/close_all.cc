// A daemon's start: it closes every descriptor but 0-2 (MODE: `loop`,
// close(3..4095); `range`, close_range(3, ~0U, 0); `closefrom`,
// closefrom(3); `procfd`, close() on each entry of /proc/self/fd), then
// opens descriptors of its own, which take the lowest numbers: a listening
// socket (it prints "port N", accepts one connection and answers the line
// it reads with "echo: LINE") and a pipe holding 100 bytes, read back when
// "quit" comes on stdin ("pipe kept N bytes"). It starts on "go" on stdin.
// Usage: close_all MODE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

void* volatile g_keep;

__attribute__((noinline)) void AllocateAfterClosing() { g_keep = malloc(100000); }

bool CloseAll(const char* mode) {
  if (strcmp(mode, "loop") == 0) {
    for (int fd = 3; fd < 4096; fd++) close(fd);
  } else if (strcmp(mode, "range") == 0) {
    if (close_range(3, ~0U, 0) != 0) return false;
  } else if (strcmp(mode, "closefrom") == 0) {
    closefrom(3);
  } else if (strcmp(mode, "procfd") == 0) {
    std::vector<int> fds;
    DIR* d = opendir("/proc/self/fd");
    if (d == nullptr) return false;
    while (dirent* e = readdir(d)) {
      int fd = atoi(e->d_name);
      if (fd > 2 && fd != dirfd(d)) fds.push_back(fd);
    }
    closedir(d);
    for (int fd : fds) close(fd);
  } else {
    return false;
  }
  return true;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char line[256];
  if (fgets(line, sizeof line, stdin) == nullptr) return 2;  // "go"
  if (!CloseAll(argv[1])) {
    fprintf(stderr, "close_all: unknown mode or failure: %s\n", argv[1]);
    return 2;
  }
  AllocateAfterClosing();
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(ls, 4) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    perror("close_all: listen");
    return 1;
  }
  int p[2];
  if (pipe(p) != 0) return 1;
  std::string data(100, 'x');
  if (write(p[1], data.data(), data.size()) != 100) return 1;
  printf("fds %d %d %d\nport %d\n", ls, p[0], p[1], ntohs(a.sin_port));
  fflush(stdout);
  pollfd pf = {ls, POLLIN, 0};
  if (poll(&pf, 1, 20000) != 1) {
    printf("no connection\n");
    return 1;
  }
  int c = accept(ls, nullptr, nullptr);
  char buf[256];
  ssize_t n = c < 0 ? -1 : read(c, buf, sizeof buf - 1);
  if (n <= 0) return 1;
  buf[n] = '\0';
  std::string reply = "echo: " + std::string(buf);
  if (write(c, reply.data(), reply.size()) < 0) return 1;
  close(c);
  if (fgets(line, sizeof line, stdin) == nullptr) return 2;  // "quit"
  struct pollfd pp = {p[0], POLLIN, 0};
  ssize_t kept = poll(&pp, 1, 0) == 1 ? read(p[0], buf, sizeof buf) : 0;
  printf("pipe kept %zd bytes\n", kept);
  return 0;
}
