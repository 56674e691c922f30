// The C API's entry points that take bytes, as a C caller uses them: restorekit_backup_open_memory
// followed by inspect and verify (the archive), and restorekit_options_set_profile (TOML). The
// first byte chooses; everything returned is checked for consistency and freed (LSan finds a
// leak in any path).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <restorekit.h>

namespace {

[[maybe_unused]] const bool kUtf8Locale = (restorekit_ensure_utf8_locale(), true);

// A result and an error are never both set, and a failure always names its status.
void check(restorekit_status status, restorekit_result* result, restorekit_error* error) {
  if (status == RESTOREKIT_OK) {
    if (!result || error || !*restorekit_result_json(result)) __builtin_trap();
    if (!*restorekit_result_verdict(result)) __builtin_trap();
  } else {
    if (result || !error || restorekit_error_status(error) != status) __builtin_trap();
    if (!*restorekit_error_json(error)) __builtin_trap();
  }
  restorekit_result_free(result);
  restorekit_error_free(error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  restorekit_options* options = restorekit_options_new();
  restorekit_error* error = nullptr;
  restorekit_result* result = nullptr;
  if (data[0] == 0) {
    auto status = restorekit_options_set_profile(options, reinterpret_cast<const char*>(data + 1),
                                                 size - 1, "/nonexistent", &error);
    if ((status == RESTOREKIT_OK) != (error == nullptr)) __builtin_trap();
    restorekit_error_free(error);
  } else {
    restorekit_options_set_limits(options, 10'000, 64u << 20, 1000);
    restorekit_options_add_password(options, "password");
    restorekit_options_set_threads(options, 1);
    restorekit_options_set_list_entries(options, data[0] & 2);
    restorekit_backup* backup = nullptr;
    if (restorekit_backup_open_memory(data + 1, size - 1, "fuzz", &backup, &error) !=
        RESTOREKIT_OK) {
      __builtin_trap();  // memory always opens
    }
    auto status = restorekit_inspect(backup, options, &result, &error);
    check(status, result, error);
    result = nullptr;
    error = nullptr;
    status = restorekit_verify(backup, options, &result, &error);
    check(status, result, error);
    restorekit_backup_free(backup);
  }
  restorekit_options_free(options);
  return 0;
}
