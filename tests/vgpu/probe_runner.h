// Runs tests/vgpu/probe (HAMI_VGPU_PROBE_PATH) as a separate process with a given environment
// (LD_PRELOAD=libvgpu.so, the fakes on LD_LIBRARY_PATH, ...) and collects what it printed.
// For libvgpu's end-to-end tests. Not thread-safe (fork from a test thread).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace hami::vgpu::testing {

struct ProbeRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout, one per command
  std::string errors;              // stderr

  // The whitespace-separated fields of the first line starting with `verb` (after `skip`
  // earlier ones).
  std::vector<std::string> Line(const std::string& verb, int skip = 0) const {
    for (const std::string& line : lines) {
      std::istringstream in(line);
      std::string first;
      in >> first;
      if (first != verb || skip-- > 0) continue;
      std::vector<std::string> fields;
      for (std::string f; in >> f;) fields.push_back(f);
      return fields;
    }
    return {};
  }
  int Code(const std::string& verb, int skip = 0) const {
    auto fields = Line(verb, skip);
    return fields.empty() ? -999 : std::stoi(fields[0]);
  }
};

// The environment of a container process on the fakes: `libvgpu` preloaded, the fake driver and
// NVML found by soname, a fake 16 GiB GPU without context overhead and a shared region in `dir`,
// a 1 GiB limit. Tests change what they need.
inline std::map<std::string, std::string> ContainerEnv(const std::string& dir,
                                                       const std::string& libvgpu) {
#if defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_FAKE_NVML_PATH)
  auto parent = [](const std::string& path) { return path.substr(0, path.rfind('/')); };
  return {
      {"LD_PRELOAD", libvgpu},
      {"LD_LIBRARY_PATH", parent(HAMI_FAKE_CUDA_PATH) + ":" + parent(HAMI_FAKE_NVML_PATH)},
      {"FAKEGPU_STATE", dir + "/fakegpu.state"},
      {"FAKEGPU_MEM", "16g"},
      {"FAKEGPU_CTX_OVERHEAD", "0"},
      {"CUDA_DEVICE_MEMORY_SHARED_CACHE", dir + "/region.cache"},
      {"CUDA_DEVICE_MEMORY_LIMIT", "1g"},
  };
#else
  (void)dir;
  (void)libvgpu;
  return {};
#endif
}

// Starts the probe with `env` (exactly; nothing inherited) and `commands` as arguments; its
// stdout and stderr come back through *out_fd / *err_fd (the caller reads them, e.g. with
// FinishProbe). Returns the child's pid, or -1 when pipes cannot be made.
inline pid_t SpawnProbe(const std::map<std::string, std::string>& env,
                        const std::vector<std::string>& commands, int* out_fd, int* err_fd) {
#ifdef HAMI_VGPU_PROBE_PATH
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string probe = HAMI_VGPU_PROBE_PATH;
    argv.push_back(probe.data());
    std::vector<std::string> args = commands;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execve(probe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
#else
  (void)env;
  (void)commands;
  (void)out_fd;
  (void)err_fd;
  return -1;
#endif
}

inline std::string ReadAllFrom(int fd) {
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) text.append(buffer, n);
  close(fd);
  return text;
}

// Reads the probe's output to the end and reaps it.
inline ProbeRun FinishProbe(pid_t pid, int out_fd, int err_fd) {
  ProbeRun run;
  std::istringstream out(ReadAllFrom(out_fd));
  for (std::string line; std::getline(out, line);) run.lines.push_back(line);
  run.errors = ReadAllFrom(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace hami::vgpu::testing
