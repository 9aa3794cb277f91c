// `heapscope run [options] -- PROGRAM [ARGS...]`: runs the program with the
// runtime preloaded, passes stdio through, forwards SIGINT/SIGTERM/SIGHUP,
// exits with the program's own status and prints a summary on stderr.
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/parse.h"
#include "cli/commands.h"
#include "cli/run_summary.h"
#include "runtime/cgroup_memory.h"

namespace heapscope::cli {
namespace {

struct RunOptions {
  std::string rate;
  std::string interval = "1s";
  std::string out;
  std::string keep = "600";
  std::string keep_children;  // HEAPSCOPE_KEEP_CHILDREN; empty: the runtime's default
  std::string http;  // HEAPSCOPE_HTTP for the program: the live endpoint
  bool quiet = false;
  bool follow = false;  // wait for the processes the program leaves running
  std::vector<std::string> command;
};

// The children of this process other than `except` (pid, command name):
// once the program has ended, what it left running, re-parented to us as
// the child subreaper. Zombies count: a multi-threaded process whose main
// thread has exited shows as one while its other threads finish, and its
// own children stay with those threads until then, out of our sight; it
// is reaped (and known to have ended) once they have.
std::vector<std::pair<pid_t, std::string>> Children(pid_t except) {
  std::vector<std::pair<pid_t, std::string>> found;
  const pid_t self = getpid();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    FILE* f = fopen(("/proc/" + name + "/stat").c_str(), "re");
    if (f == nullptr) continue;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const char* open_paren = strchr(buf, '(');
    const char* close_paren = strrchr(buf, ')');
    if (open_paren == nullptr || close_paren == nullptr || close_paren < open_paren) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
    const pid_t pid = static_cast<pid_t>(atoi(name.c_str()));
    if (ppid != self || pid == except || state == 'X') continue;
    found.emplace_back(pid, std::string(open_paren + 1, close_paren));
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Removes the partial files (KIND[.PID].WHAT.pb.gz.tmp, written whole
// and then renamed) of processes that are gone: one killed while writing
// leaves its file behind. Those of the program itself (no pid in the name)
// once it has ended, those of others once their pid is gone. Returns the
// names removed.
std::vector<std::string> RemoveStalePartials(const std::string& out_dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(out_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.ends_with(".pb.gz.tmp")) continue;
    // KIND.WHAT.pb.gz.tmp (the program's) or KIND.PID.WHAT.pb.gz.tmp.
    std::vector<std::string> parts;
    for (size_t i = 0, dot; i <= name.size(); i = dot + 1) {
      dot = name.find('.', i);
      if (dot == std::string::npos) dot = name.size();
      parts.push_back(name.substr(i, dot - i));
    }
    if (parts.size() == 6) {
      uint64_t pid = 0;
      if (!base::ParseUint(parts[1].c_str(), &pid) || pid == 0 || pid > INT32_MAX) continue;
      if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still there
    } else if (parts.size() != 5) {
      continue;
    }
    if (std::filesystem::remove(e.path(), ec)) removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

// The runtime sits at ../lib/libheapscope.so from bin/heapscope, in the
// build tree and in an install tree alike; HEAPSCOPE_LIB overrides.
std::string FindRuntime() {
  if (const char* env = getenv("HEAPSCOPE_LIB"); env != nullptr && *env != '\0') return env;
  std::string dir = SelfDir();
  for (const char* rel : {"/../lib/libheapscope.so", "/libheapscope.so",
                          "/../lib/heapscope/libheapscope.so"}) {
    std::string p = dir + rel;
    if (access(p.c_str(), R_OK) == 0) {
      std::error_code ec;
      auto canon = std::filesystem::canonical(p, ec);
      return ec ? p : canon.string();
    }
  }
  return "";
}

std::string BaseName(const std::string& s) {
  auto pos = s.find_last_of('/');
  return pos == std::string::npos ? s : s.substr(pos + 1);
}

// Where execvp would find `name`: itself if it has a slash, else the first
// executable file of that name on PATH; "" if none.
std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return "";
}

// What `path`'s ELF headers say about how the runtime can reach it.
struct ElfFacts {
  // An executable without a program interpreter (static or static-pie):
  // the dynamic loader never runs in it, so LD_PRELOAD cannot bring the
  // runtime in.
  bool is_static = false;
  // Built by Go (.go.buildinfo or a Go build ID note): only its C
  // allocations (cgo) go through malloc, and it ends with a raw exit
  // system call, past C's exit handlers.
  bool is_go = false;
};

ElfFacts InspectElf(const std::string& path) {
  ElfFacts facts;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return facts;
  elf_version(EV_CURRENT);
  if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr); elf != nullptr) {
    GElf_Ehdr eh;
    size_t n = 0;
    if (elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) != nullptr &&
        (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) && elf_getphdrnum(elf, &n) == 0) {
      bool interp = false, load = false;
      for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, static_cast<int>(i), &ph) == nullptr) continue;
        interp |= ph.p_type == PT_INTERP;
        load |= ph.p_type == PT_LOAD;
      }
      // A shared library without PT_INTERP is not run on its own; an
      // executable one (ET_DYN with an entry point) is static-pie.
      facts.is_static = load && !interp && eh.e_entry != 0;
      size_t names = 0;
      if (elf_getshdrstrndx(elf, &names) == 0) {
        for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
             scn = elf_nextscn(elf, scn)) {
          GElf_Shdr sh;
          if (gelf_getshdr(scn, &sh) == nullptr) continue;
          const char* name = elf_strptr(elf, names, sh.sh_name);
          if (name != nullptr &&
              (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".note.go.buildid") == 0)) {
            facts.is_go = true;
            break;
          }
        }
      }
    }
    elf_end(elf);
  }
  close(fd);
  return facts;
}

// Why exec'ing `path` from this process would run it in secure-execution
// mode (AT_SECURE), where the dynamic loader ignores LD_PRELOAD, or "" if
// it would not: the kernel sets AT_SECURE when the new effective user or
// group differs from the real one (set-user-ID or set-group-ID files, on a
// mount that honours them, without no_new_privs) or when file capabilities
// raise an unprivileged caller's.
std::string SecureExecReason(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return "";
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) == 0 && (vfs.f_flag & ST_NOSUID) != 0) return "";
  if ((st.st_mode & S_ISUID) != 0 && st.st_uid != getuid()) {
    return "set-user-ID (uid " + std::to_string(st.st_uid) + ")";
  }
  if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && st.st_gid != getgid()) {
    return "set-group-ID (gid " + std::to_string(st.st_gid) + ")";
  }
  if (getuid() != 0 && getxattr(path.c_str(), "security.capability", nullptr, 0) > 0) {
    return "given capabilities by the file system";
  }
  return "";
}

int Run(const RunOptions& o) {
  if (o.command.empty()) {
    std::fprintf(stderr, "heapscope: run: no program given (usage: heapscope run -- PROGRAM ARGS...)\n");
    return 2;
  }
  if (o.command[0].size() > 1 && o.command[0][0] == '-') {
    std::fprintf(stderr, "heapscope: run: unknown option %s (put the program after --)\n",
                 o.command[0].c_str());
    return 2;
  }
  uint64_t tmp;
  if (!o.rate.empty() && (!base::ParseSize(o.rate.c_str(), &tmp) || tmp == 0)) {
    std::fprintf(stderr, "heapscope: run: --rate %s: expected bytes such as 524288, 512K or 1\n",
                 o.rate.c_str());
    return 2;
  }
  if (!o.interval.empty() && !base::ParseDuration(o.interval.c_str(), &tmp)) {
    std::fprintf(stderr, "heapscope: run: --interval %s: expected a duration such as 10s or 500ms\n",
                 o.interval.c_str());
    return 2;
  }
  if (!base::ParseUint(o.keep.c_str(), &tmp)) {
    std::fprintf(stderr, "heapscope: run: --keep %s: expected a number of files\n", o.keep.c_str());
    return 2;
  }
  if (!o.keep_children.empty() && !base::ParseUint(o.keep_children.c_str(), &tmp)) {
    std::fprintf(stderr, "heapscope: run: --keep-children %s: expected a number of processes\n",
                 o.keep_children.c_str());
    return 2;
  }
  std::string lib = FindRuntime();
  if (lib.empty()) {
    std::fprintf(stderr,
                 "heapscope: run: cannot find libheapscope.so next to %s (set HEAPSCOPE_LIB)\n",
                 SelfDir().c_str());
    return 2;
  }

  if (std::string program = ResolveProgram(o.command[0]); !program.empty()) {
    const ElfFacts facts = InspectElf(program);
    if (facts.is_static) {
      std::fprintf(stderr,
                   "heapscope: run: %s is statically linked: the runtime cannot be preloaded "
                   "into it, so it runs unprofiled (only dynamically linked programs can be)\n",
                   program.c_str());
    } else if (std::string why = SecureExecReason(program); !why.empty()) {
      std::fprintf(stderr,
                   "heapscope: run: %s is %s: the dynamic loader ignores LD_PRELOAD in it "
                   "(secure execution), so it runs unprofiled\n",
                   program.c_str(), why.c_str());
    } else if (facts.is_go) {
      std::fprintf(stderr,
                   "heapscope: run: %s is a Go program: only its C allocations (cgo) reach the "
                   "runtime, and Go exits past C's exit handlers, so no final profile is written "
                   "(periodic snapshots are, while it runs)\n",
                   program.c_str());
    }
  }

  // Tell the program's start-up failures apart from its own exit codes.
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "heapscope: run: pipe: %s\n", strerror(errno));
    return 2;
  }
  // Absolute, so a program that changes directory still writes where the
  // summary will look.
  std::string out_dir = o.out.empty() ? "" : std::filesystem::absolute(o.out).string();
  std::string cwd = std::filesystem::current_path().string();
  auto start = std::chrono::steady_clock::now();

  // Processes the program leaves running (a daemon forks and lets its
  // parent exit) are re-parented to us rather than to init, so that we can
  // name them, and follow them with --follow.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  // The signals passed on, and SIGCHLD, are taken with sigwaitinfo: blocked
  // from before the child exists, so none is lost.
  sigset_t waited, old;
  sigemptyset(&waited);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&waited, s);
  sigprocmask(SIG_BLOCK, &waited, &old);

  // The program starts in our memory cgroup: its OOM kills now, to tell
  // the kernel's OOM killer from another SIGKILL when it ends.
  uint64_t oom_kills_before = 0;
  const bool oom_kills_known = runtime::ReadCgroupOomKills(&oom_kills_before);

  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "heapscope: run: fork: %s\n", strerror(errno));
    return 2;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    close(errpipe[0]);
    std::string pid = std::to_string(getpid());
    std::string preload = lib;
    if (const char* prev = getenv("LD_PRELOAD"); prev != nullptr && *prev != '\0') {
      preload += ":" + std::string(prev);
    }
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("HEAPSCOPE_MAIN_PID", pid.c_str(), 1);
    std::string dir =
        out_dir.empty() ? cwd + "/heapscope-" + BaseName(o.command[0]) + "-" + pid : out_dir;
    setenv("HEAPSCOPE_OUT", dir.c_str(), 1);
    if (!o.rate.empty()) setenv("HEAPSCOPE_RATE", o.rate.c_str(), 1);
    if (!o.interval.empty()) setenv("HEAPSCOPE_INTERVAL", o.interval.c_str(), 1);
    setenv("HEAPSCOPE_KEEP", o.keep.c_str(), 1);
    if (!o.keep_children.empty()) setenv("HEAPSCOPE_KEEP_CHILDREN", o.keep_children.c_str(), 1);
    if (!o.http.empty()) setenv("HEAPSCOPE_HTTP", o.http.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    int err = errno;
    ssize_t w = write(errpipe[1], &err, sizeof err);
    (void)w;
    _exit(127);
  }
  if (out_dir.empty()) {
    out_dir = cwd + "/heapscope-" + BaseName(o.command[0]) + "-" + std::to_string(child);
  }
  close(errpipe[1]);
  int exec_err = 0;
  ssize_t got;
  do {
    got = read(errpipe[0], &exec_err, sizeof exec_err);
  } while (got < 0 && errno == EINTR);
  close(errpipe[0]);

  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int status = 0;
  bool ended = false;
  double seconds = 0;
  std::vector<LeftRunning> left;  // what the program left running, as found
  // Reaps every child that has ended: the program, what it left running,
  // and orphans re-parented to us while it ran. false once none is left.
  auto reap = [&] {
    for (;;) {
      int st = 0;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p == 0) return true;
      if (p < 0) return errno == EINTR;
      if (p == child) {
        status = st;
        ended = true;
        seconds = elapsed();
      }
      for (LeftRunning& l : left) {
        if (l.pid == p) {
          l.status = st;
          l.seconds = elapsed();
          l.ended = true;
        }
      }
    }
  };
  auto find_left = [&] {
    for (auto& [pid, name] : Children(child)) {
      if (std::none_of(left.begin(), left.end(),
                       [&](const LeftRunning& l) { return l.pid == pid; })) {
        LeftRunning l;
        l.pid = pid;
        l.name = name;
        l.profiled = RuntimeLoaded(pid) != false;  // unknown: assumed
        if (!l.profiled) l.why_not = WhyRuntimeNotLoaded(pid);
        left.push_back(std::move(l));
      }
    }
  };
  // Passes a signal on: to the program while it runs, then to what it
  // left running. A terminal's Ctrl-C already reached the whole process
  // group (si_code SI_KERNEL); only processes outside it (a daemon in a
  // session of its own) and signals sent to us alone (kill) need passing.
  auto pass_on = [&](const siginfo_t& info) {
    const bool from_terminal = info.si_code == SI_KERNEL;
    if (!ended) {
      if (!from_terminal) kill(child, info.si_signo);
      return;
    }
    for (const LeftRunning& l : left) {
      if (l.ended) continue;
      if (from_terminal && getpgid(l.pid) == getpgrp()) continue;
      kill(l.pid, info.si_signo);
    }
  };

  // Until the program ends.
  while (reap() && !ended) {
    siginfo_t info;
    if (sigwaitinfo(&waited, &info) > 0 && info.si_signo != SIGCHLD) pass_on(info);
  }
  if (!ended) {
    std::fprintf(stderr, "heapscope: run: waitpid: %s\n", strerror(errno));
    return 2;
  }
  // What it left running. A daemon's intermediate process (fork, setsid,
  // fork again) may still be on its way out (writing its final profile):
  // settle until no child has ended for 250 ms (2 s at most).
  find_left();
  for (int round = 0; round < 8 && !left.empty(); round++) {
    siginfo_t info;
    struct timespec wait_for = {0, 250 * 1000 * 1000};
    int sig = sigtimedwait(&waited, &info, &wait_for);
    if (sig < 0) break;
    if (sig != SIGCHLD) pass_on(info);
    reap();
    find_left();
  }
  // Those that merely passed through (a daemon's intermediate process).
  std::erase_if(left, [](const LeftRunning& l) { return l.ended; });
  // As they are now (one may have exec'd another program since it was found).
  for (const auto& [pid, name] : Children(child)) {
    for (LeftRunning& l : left) {
      if (l.pid != pid) continue;
      l.name = name;
      l.profiled = RuntimeLoaded(pid) != false;
      if (!l.profiled) l.why_not = WhyRuntimeNotLoaded(pid);
    }
  }
  if (o.follow) {
    // Until every process it left running has ended, and those they left.
    while (reap()) {
      siginfo_t info;
      if (sigwaitinfo(&waited, &info) <= 0) continue;
      if (info.si_signo == SIGCHLD) {
        find_left();  // orphans of what it left, re-parented to us
      } else {
        pass_on(info);
      }
    }
  }
  if (got == sizeof exec_err) {
    std::fprintf(stderr, "heapscope: run: cannot run %s: %s\n", o.command[0].c_str(),
                 strerror(exec_err));
    return 127;
  }
  const std::vector<std::string> partials = RemoveStalePartials(out_dir);
  if (!o.quiet) {
    uint64_t oom_kills_after = 0;
    RunEnd end;
    end.status = status;
    end.oom_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_kills_known &&
                     runtime::ReadCgroupOomKills(&oom_kills_after) &&
                     oom_kills_after > oom_kills_before;
    if (end.oom_killed) end.memory_limit = runtime::ReadCgroupMemory().limit;
    PrintRunSummary(o.command[0], out_dir, end, seconds, left, o.follow, stderr);
    if (!partials.empty()) {
      std::string names;
      for (size_t i = 0; i < partials.size() && i < 3; i++) names += (i ? ", " : "") + partials[i];
      if (partials.size() > 3) names += ", ...";
      std::fprintf(stderr,
                   "heapscope: removed %zu partial file%s left by processes ended while writing "
                   "(%s)\n",
                   partials.size(), partials.size() == 1 ? "" : "s", names.c_str());
    }
  }

  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    // Die of the same signal, so our parent sees what the program did.
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t just;  // the signals passed on are blocked (taken by sigwaitinfo)
    sigemptyset(&just);
    sigaddset(&just, sig);
    sigprocmask(SIG_UNBLOCK, &just, nullptr);
    raise(sig);
    return 128 + sig;
  }
  return 1;
}

}  // namespace

CommandFn RegisterRunCommand(CLI::App& app) {
  auto* o = new RunOptions();  // lives as long as the process
  auto* cmd = app.add_subcommand("run", "Run a program with the profiler preloaded");
  cmd->add_option("--rate", o->rate,
                  "Mean bytes between samples (default 524288); 1 records every allocation");
  cmd->add_option("--interval", o->interval, "Time between snapshots, e.g. 10s (default 1s)");
  cmd->add_option("--out", o->out, "Output directory (default ./heapscope-PROGRAM-PID)");
  cmd->add_option("--keep", o->keep, "Newest snapshots kept on disk (default 600, 0: all)");
  cmd->add_option("--keep-children", o->keep_children,
                  "Processes started by the program that have ended whose files are kept, the "
                  "newest (default 200, 0: all)");
  cmd->add_option("--http", o->http,
                  "Serve the live endpoint (pprof, /metrics) on ADDR:PORT, e.g. 127.0.0.1:6060");
  cmd->add_flag("--follow", o->follow,
                "When the program ends, wait for the processes it left running (a daemon), "
                "passing SIGINT/SIGTERM/SIGHUP on to them, and summarize each");
  cmd->add_flag("-q,--quiet", o->quiet, "Print no summary");
  // Everything from the first argument that is not ours (or after "--")
  // belongs to the program.
  cmd->prefix_command(true);
  cmd->allow_extras(true);
  cmd->footer("Usage: heapscope run [OPTIONS] -- PROGRAM [ARGS...]");
  return [o, cmd] {
    o->command = cmd->remaining();
    for (const auto& a : PassthroughArgs()) o->command.push_back(a);
    return Run(*o);
  };
}

}  // namespace heapscope::cli
