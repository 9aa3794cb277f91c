// Holds known numbers of descriptors, threads and anonymous mappings, each
// made by its own function, so that the resource profiles can be checked
// exactly. Some are made and released again and must not show.
//
//   resource_holder hold        make everything, print "ready", wait for a
//                               line on stdin, release the threads, exit 0
//   resource_holder fork-exec   open a plain and an O_CLOEXEC descriptor,
//                               fork a child that exits, and a child that
//                               execs "leaf A B"
//   resource_holder leaf A B    (exec'd) report which descriptors it has
//   resource_holder rss         hold 48 MiB of heap, 4 MiB of thread
//                               stacks, 32 MiB of anonymous mappings; wait
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

// Functions are static, not in an anonymous namespace, so that their
// names read plainly in the profiles.
#define NOINLINE __attribute__((noinline))

static std::atomic<int> g_sink{0};
// Keeps the compiler from merging or tail-calling the functions below.
static NOINLINE void Use(int v) { g_sink.fetch_add(v); }
static NOINLINE void Use(const void* p) { g_sink.fetch_add(p != nullptr ? 1 : 0); }

static NOINLINE void OpenFiles() {
  for (int i = 0; i < 3; i++) Use(open("/dev/null", O_RDONLY));
  for (int i = 0; i < 2; i++) close(open("/dev/null", O_RDONLY));
  Use(0);
}

static NOINLINE void OpenSockets() {
  for (int i = 0; i < 2; i++) Use(socket(AF_INET, SOCK_STREAM, 0));
  close(socket(AF_INET, SOCK_DGRAM, 0));
  Use(0);
}

static NOINLINE void MakeSocketPair() {
  int sv[2];
  Use(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

static NOINLINE void MakePipes() {
  int p[2];
  for (int i = 0; i < 2; i++) Use(pipe(p));
  Use(pipe2(p, O_CLOEXEC));
  close(p[0]);
  close(p[1]);
}

static NOINLINE void OpenStreams() {
  for (int i = 0; i < 2; i++) Use(fopen("/dev/null", "r"));
  fclose(fopen("/dev/null", "r"));
  Use(0);
}

static NOINLINE void OpenDirs() {
  for (int i = 0; i < 2; i++) Use(opendir("/"));
  closedir(opendir("/"));
  Use(0);
}

static NOINLINE void DupFds(int fd) {
  Use(dup(fd));
  Use(fcntl(fd, F_DUPFD_CLOEXEC, 100));
}

static NOINLINE void MakeEventFds() {
  Use(eventfd(0, 0));
  Use(timerfd_create(CLOCK_MONOTONIC, 0));
  Use(epoll_create1(0));
  Use(inotify_init1(0));
  Use(memfd_create("resource_holder", 0));
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  Use(signalfd(-1, &mask, 0));
}

static int g_park[2];

static void* Parked(void*) {
  char c;
  while (read(g_park[0], &c, 1) < 0) {
  }
  return nullptr;
}

static void* Returns(void*) { return nullptr; }

static void* Exits(void*) { pthread_exit(nullptr); }

static pthread_t g_parked[3];

static NOINLINE void StartParkedThreads() {
  for (pthread_t& t : g_parked) Use(pthread_create(&t, nullptr, Parked, nullptr));
}

static NOINLINE void StartFinishedThreads() {
  pthread_t t[2];
  Use(pthread_create(&t[0], nullptr, Returns, nullptr));
  Use(pthread_create(&t[1], nullptr, Exits, nullptr));
  pthread_join(t[0], nullptr);
  pthread_join(t[1], nullptr);
}

static constexpr size_t kKiB = 1024;

#define MAP(len) mmap(nullptr, (len), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)

static NOINLINE void MapAnon() {
  for (int i = 0; i < 4; i++) Use(MAP(64 * kKiB));
  // 1 MiB with 256 KiB unmapped in the middle: two ranges, 768 KiB.
  char* big = static_cast<char*>(MAP(1024 * kKiB));
  munmap(big + 384 * kKiB, 256 * kKiB);
  // Grown from 64 KiB to 128 KiB, wherever the kernel puts it.
  void* grown = mremap(MAP(64 * kKiB), 64 * kKiB, 128 * kKiB, MREMAP_MAYMOVE);
  Use(grown);
  munmap(MAP(64 * kKiB), 64 * kKiB);
}

// Not inlined into main: its frame is named Hold whether or not a reader
// expands inlined frames from DWARF.
static NOINLINE int Hold() {
  if (pipe(g_park) != 0) return 2;  // made in main: not one of the counted functions
  OpenFiles();
  OpenSockets();
  MakeSocketPair();
  MakePipes();
  OpenStreams();
  OpenDirs();
  DupFds(0);
  MakeEventFds();
  StartParkedThreads();
  StartFinishedThreads();
  MapAnon();
  printf("ready %d\n", static_cast<int>(getpid()));
  fflush(stdout);
  char line[64];
  if (fgets(line, sizeof line, stdin) == nullptr) return 3;
  char go[3] = {'x', 'x', 'x'};
  if (write(g_park[1], go, sizeof go) != sizeof go) return 4;
  for (pthread_t t : g_parked) pthread_join(t, nullptr);
  printf("done\n");
  return 0;
}

// Not tail calls: the caller of open must be these functions.
static NOINLINE int OpenKept() {
  int fd = open("/dev/null", O_RDONLY);
  Use(fd);
  return fd;
}

static NOINLINE int OpenCloexec() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  Use(fd);
  return fd;
}

static int ForkExec(const char* self) {
  int kept = OpenKept();
  int cloexec = OpenCloexec();
  fflush(stdout);
  pid_t plain = fork();
  if (plain == 0) exit(0);  // the fork child holds both, made by the parent's functions
  int status;
  waitpid(plain, &status, 0);
  pid_t execd = fork();
  if (execd == 0) {
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", kept);
    snprintf(b, sizeof b, "%d", cloexec);
    execl(self, self, "leaf", a, b, static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(execd, &status, 0);
  printf("children %d %d\n", static_cast<int>(plain), static_cast<int>(execd));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 5;
}

static int Leaf(int kept, int cloexec) {
  int open_fds = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 6;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') open_fds++;
  }
  closedir(d);
  open_fds--;  // the directory's own descriptor
  printf("leaf fds=%d kept=%d cloexec=%d\n", open_fds, fcntl(kept, F_GETFD) >= 0 ? 1 : 0,
         fcntl(cloexec, F_GETFD) >= 0 ? 1 : 0);
  return 0;
}

static void* ParkedWithStack(void* arg) {
  // Touch 1 MiB of this thread's stack, then park.
  volatile char buf[1024 * 1024];
  for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = 1;
  Use(const_cast<char*>(&buf[0]));
  return Parked(arg);
}

static NOINLINE void* HoldHeap(size_t bytes) {
  char* p = static_cast<char*>(malloc(bytes));
  memset(p, 1, bytes);
  return p;
}

static int Rss() {
  if (pipe(g_park) != 0) return 2;
  for (int i = 0; i < 48; i++) Use(HoldHeap(1024 * kKiB));
  pthread_t t[4];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 4 * 1024 * kKiB);
  for (pthread_t& x : t) pthread_create(&x, &attr, ParkedWithStack, nullptr);
  char* m = static_cast<char*>(MAP(32 * 1024 * kKiB));
  memset(m, 1, 32 * 1024 * kKiB);
  usleep(200 * 1000);
  printf("ready %d\n", static_cast<int>(getpid()));
  fflush(stdout);
  char line[64];
  if (fgets(line, sizeof line, stdin) == nullptr) return 3;
  char go[4] = {'x', 'x', 'x', 'x'};
  if (write(g_park[1], go, sizeof go) != sizeof go) return 4;
  for (pthread_t x : t) pthread_join(x, nullptr);
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "hold";
  if (strcmp(mode, "hold") == 0) return Hold();
  if (strcmp(mode, "fork-exec") == 0) return ForkExec(argv[0]);
  if (strcmp(mode, "leaf") == 0 && argc == 4) return Leaf(atoi(argv[2]), atoi(argv[3]));
  if (strcmp(mode, "rss") == 0) return Rss();
  fprintf(stderr, "usage: resource_holder hold|fork-exec|rss\n");
  return 2;
}
