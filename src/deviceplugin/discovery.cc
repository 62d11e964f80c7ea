#include "deviceplugin/discovery.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <tuple>

#include "common/strings.h"

namespace hami::deviceplugin {

namespace {

// The existing MIG instances of one GPU as the profiles the scheduler may choose from: one per
// profile name, smallest memory first (then fewest slices, then name, so the annotation does not
// depend on NVML's MIG device order), with the placements its instances occupy.
std::vector<MigProfile> GroupMigInstances(std::span<const nvml::NvmlMigInstance> instances) {
  std::vector<MigProfile> profiles;
  for (const nvml::NvmlMigInstance& instance : instances) {
    auto it = std::find_if(profiles.begin(), profiles.end(),
                           [&](const MigProfile& p) { return p.name == instance.profile; });
    if (it == profiles.end()) {
      MigProfile profile;
      profile.name = instance.profile;
      profile.memory_mib = instance.memory_mib;
      profile.core = instance.core_percent;
      profile.slice_count = instance.slice_count;
      profiles.push_back(std::move(profile));
      it = std::prev(profiles.end());
    }
    it->placements.push_back(instance.placement);
  }
  std::sort(profiles.begin(), profiles.end(), [](const MigProfile& a, const MigProfile& b) {
    return std::tie(a.memory_mib, a.slice_count, a.name) <
           std::tie(b.memory_mib, b.slice_count, b.name);
  });
  for (MigProfile& profile : profiles) {
    std::sort(profile.placements.begin(), profile.placements.end(),
              [](const MigPlacement& a, const MigPlacement& b) { return a.start < b.start; });
  }
  return profiles;
}

// Every profile of `allowed` the GPU has, with all its legal placements (dynamic MIG).
std::vector<MigProfile> AllowedProfiles(std::span<const nvml::NvmlMigProfileInfo> infos,
                                        const std::set<std::string>& allowed) {
  std::vector<MigProfile> profiles;
  for (const nvml::NvmlMigProfileInfo& info : infos) {
    if (allowed.count(info.name) == 0 || info.placements.empty()) continue;
    if (std::any_of(profiles.begin(), profiles.end(),
                    [&](const MigProfile& p) { return p.name == info.name; })) {
      continue;  // NVML lists a profile once; a repeat would only double its placements
    }
    MigProfile profile;
    profile.name = info.name;
    profile.memory_mib = info.memory_mib;
    profile.slice_count = info.slice_count;
    profile.placements = info.placements;
    std::sort(profile.placements.begin(), profile.placements.end(),
              [](const MigPlacement& a, const MigPlacement& b) { return a.start < b.start; });
    profiles.push_back(std::move(profile));
  }
  // HAMi's core of a profile: its share of the GPU's SMs; the largest profile is the whole GPU.
  int32_t whole_sms = 0;
  for (const nvml::NvmlMigProfileInfo& info : infos) {
    whole_sms = std::max(whole_sms, info.multiprocessor_count);
  }
  for (MigProfile& profile : profiles) {
    for (const nvml::NvmlMigProfileInfo& info : infos) {
      if (info.name != profile.name) continue;
      const int64_t sms = info.multiprocessor_count;
      profile.core =
          whole_sms > 0 ? static_cast<int32_t>((sms * 100 + whole_sms - 1) / whole_sms) : 0;
      break;
    }
  }
  std::sort(profiles.begin(), profiles.end(), [](const MigProfile& a, const MigProfile& b) {
    return std::tie(a.memory_mib, a.slice_count, a.name) <
           std::tie(b.memory_mib, b.slice_count, b.name);
  });
  return profiles;
}

}  // namespace

std::optional<std::set<std::string>> AllowedMigProfiles(
    const std::vector<MigProfileAllowance>& allowlist, const std::string& gpu_name) {
  std::optional<std::set<std::string>> allowed;
  for (const MigProfileAllowance& entry : allowlist) {
    const bool named = std::any_of(entry.models.begin(), entry.models.end(), [&](const auto& m) {
      return !m.empty() && gpu_name.find(m) != std::string::npos;
    });
    if (!named) continue;
    if (!allowed) allowed.emplace();
    allowed->insert(entry.profiles.begin(), entry.profiles.end());
  }
  return allowed;
}

Discovered ToDeviceInfos(std::span<const nvml::NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of) {
  return ToDeviceInfos(gpus, options, numa_of, MigProfilesOf{});
}

Discovered ToDeviceInfos(std::span<const nvml::NvmlGpu> gpus, const DiscoveryOptions& options,
                         const std::function<int32_t(const std::string& bus_id)>& numa_of,
                         const MigProfilesOf& mig_profiles_of) {
  std::optional<std::vector<MigProfileAllowance>> default_allowlist;
  Discovered out;
  for (const nvml::NvmlGpu& gpu : gpus) {
    const std::string who = "GPU " + std::to_string(gpu.index) + " " + gpu.uuid;
    if (options.exclude_uuids.count(gpu.uuid) > 0 || options.exclude_indexes.count(gpu.index) > 0) {
      out.skipped.push_back(who + ": excluded by the node config");
      continue;
    }
    int64_t memory_mib = 0;
    if (gpu.memory_bytes) {
      memory_mib = static_cast<int64_t>(*gpu.memory_bytes / (1024 * 1024));
    } else if (options.preconfigured_memory_mib > 0) {
      memory_mib = options.preconfigured_memory_mib;
    } else {
      out.skipped.push_back(who +
                            ": NVML cannot report its memory and no "
                            "preConfiguredDeviceMemory is set");
      continue;
    }
    DeviceInfo d;
    d.id = gpu.uuid;
    d.index = static_cast<int32_t>(gpu.index);
    d.type = gpu.name.rfind("NVIDIA", 0) == 0 ? gpu.name : "NVIDIA-" + gpu.name;
    d.numa = std::max(0, numa_of(gpu.bus_id));
    d.health = true;
    if (gpu.mig_enabled) {
      // HAMi-core cannot limit memory or SMs inside a MIG GPU, so whatever the node's mode, a
      // GPU in MIG mode is offered only as its existing MIG instances.
      d.mode = kModeMig;
      d.devmem_mib = static_cast<int32_t>(memory_mib);
      d.devcore = 100;
      d.count = static_cast<int32_t>(gpu.mig_instances.size());
      d.mig_profiles = GroupMigInstances(gpu.mig_instances);
      if (options.mode == kModeMig && mig_profiles_of) {
        auto infos = mig_profiles_of(gpu.index);
        const bool placeable =
            infos.ok() && std::any_of(infos->begin(), infos->end(),
                                      [](const auto& info) { return !info.placements.empty(); });
        if (!infos.ok()) {
          out.notes.push_back(who + ": dynamic MIG unavailable, existing instances only: " +
                              infos.status().message());
        } else if (!placeable) {
          out.notes.push_back(who + ": NVML reports no MIG placement, existing instances only");
        } else {
          if (!options.mig_profile_allowlist && !default_allowlist) {
            const DeviceConfig defaults = DefaultDeviceConfig();
            default_allowlist = defaults.nvidia ? defaults.nvidia->mig_profile_allowlist
                                                : std::vector<MigProfileAllowance>{};
          }
          const auto allowed = AllowedMigProfiles(
              options.mig_profile_allowlist ? *options.mig_profile_allowlist : *default_allowlist,
              gpu.name);
          d.mig_profiles = allowed ? AllowedProfiles(*infos, *allowed) : std::vector<MigProfile>{};
          d.count = 0;
          for (const nvml::NvmlMigProfileInfo& info : *infos) {
            if (allowed && allowed->count(info.name) > 0) {
              d.count = std::max(d.count, static_cast<int32_t>(info.placements.size()));
            }
          }
          if (!allowed) {
            out.notes.push_back(who + ": no migProfileAllowlist entry names model " + gpu.name +
                                ": no MIG profile offered");
          } else if (d.mig_profiles.empty()) {
            out.notes.push_back(who + ": the GPU has none of the profiles migProfileAllowlist " +
                                "allows for it: no MIG profile offered");
          }
          out.devices.push_back(std::move(d));
          continue;
        }
      }
      if (options.mode != kModeMig) {
        out.notes.push_back(who + ": MIG mode is on: published as mode mig, not " + options.mode);
      }
      if (gpu.mig_instances.empty()) {
        out.notes.push_back(who +
                            ": MIG mode is on but no MIG instance exists: nothing to hand out");
      }
      for (const std::string& error : gpu.mig_errors) {
        out.notes.push_back(who + ": MIG device left out: " + error);
      }
    } else {
      // A node in "mig" mode with a GPU whose MIG mode is off: there are no instances to hand
      // out, but HAMi-core can share the whole GPU, so it is published as that.
      d.mode = options.mode == kModeMig ? std::string(kModeHamiCore) : options.mode;
      if (options.mode == kModeMig) {
        out.notes.push_back(who + ": MIG mode is off: published as mode hami-core, not mig");
      }
      d.count = options.split_count;
      d.devmem_mib = static_cast<int32_t>(
          options.memory_scaling == 1.0
              ? memory_mib
              : static_cast<int64_t>(static_cast<double>(memory_mib) * options.memory_scaling));
      d.devcore = static_cast<int32_t>(options.core_scaling * 100);
    }
    out.devices.push_back(std::move(d));
  }
  return out;
}

int32_t NumaNode(const std::string& sysfs_root, const std::string& nvml_bus_id) {
  // NVML writes an 8-digit PCI domain in upper case; sysfs a 4-digit one in lower case.
  std::string id;
  for (char c : nvml_bus_id) id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t colon = id.find(':');
  if (colon == 8 && id.compare(0, 4, "0000") == 0) id = id.substr(4);
  std::ifstream file(sysfs_root + "/bus/pci/devices/" + id + "/numa_node");
  std::string text;
  if (!std::getline(file, text)) return 0;
  auto value = ParseInt32(Trim(text));
  return value && *value > 0 ? *value : 0;
}

}  // namespace hami::deviceplugin
