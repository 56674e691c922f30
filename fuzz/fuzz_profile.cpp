// Profiles (TOML) over arbitrary text: a result or an error naming the key, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <restorekit/core/profile.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto profile = restorekit::core::parse_profile(text, "/srv/app");
  if (profile) (void)profile->tenant_spec();
  return 0;
}
