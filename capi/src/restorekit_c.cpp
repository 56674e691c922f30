// The C API (restorekit.h) over the C++ modules: each entry point converts its arguments, runs
// the C++ operation, and hands back the report as the JSON document the CLI prints (the same
// renderers, cli/render_*.cpp). No exception leaves an entry point.
#include "restorekit.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/inspect/inspect.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

#include "render_common.hpp"
#include "render_diff.hpp"
#include "render_inspect.hpp"
#include "render_restore.hpp"
#include "render_verify.hpp"

namespace fs = std::filesystem;
using restorekit::Error;
using restorekit::ErrorCode;

struct restorekit_error {
  Error error;
  std::string json;
};

struct restorekit_backup {
  restorekit::core::ArchiveSource source;
};

struct restorekit_options {
  restorekit::core::ReaderOptions reader;
  std::optional<restorekit::core::Profile> profile;
  restorekit_progress_fn progress = nullptr;
  void* progress_user = nullptr;
  restorekit_password_fn password = nullptr;
  void* password_user = nullptr;
  restorekit::CancelToken cancel;
  fs::path temp_dir;
  bool list_entries = false;
  unsigned threads = 0;
  std::optional<fs::path> checksums_file;
  bool require_database = false;
  std::optional<fs::path> live_documents;
  std::size_t sample_rows = 0;
};

struct restorekit_result {
  std::string json;
  std::string verdict;
};

struct restorekit_plan {
  restorekit::restore::Plan plan;
  restorekit_plan_mode mode = RESTOREKIT_DRY_RUN;
  restorekit_result result;
  bool applied = false;  // apply ran (installed or refused): nothing is left to discard
};

namespace {

using json = nlohmann::ordered_json;
namespace rk = restorekit;

// The status of an error code: the enums list the codes in the same order.
static_assert(static_cast<int>(ErrorCode::kInvalidArgument) + 1 == RESTOREKIT_E_INVALID_ARGUMENT);
static_assert(static_cast<int>(ErrorCode::kInternal) + 1 == RESTOREKIT_E_INTERNAL);
restorekit_status status_of(ErrorCode code) {
  return static_cast<restorekit_status>(static_cast<int>(code) + 1);
}

// Hands `e` to the caller (when they asked for errors) and returns its status.
restorekit_status fail_with(Error e, std::string_view schema, restorekit_error** error) {
  restorekit_status status = status_of(e.code);
  if (error) {
    auto* out = new (std::nothrow) restorekit_error;
    if (out) {
      try {
        out->json =
            rk::cli::json_text(json{{"schema", schema.empty() ? json(nullptr) : json(schema)},
                                    {"error", rk::cli::error_json(e)}});
        out->error = std::move(e);
      } catch (...) {
        delete out;
        out = nullptr;
      }
    }
    *error = out;
  }
  return status;
}

restorekit_status fail_with(ErrorCode code, std::string message, std::string_view schema,
                            restorekit_error** error) {
  return fail_with(Error(code, std::move(message)), schema, error);
}

// Runs an entry point's body: exceptions become statuses (no error object when memory is out).
template <typename Body>
restorekit_status guarded(std::string_view schema, restorekit_error** error, Body&& body) noexcept {
  if (error) *error = nullptr;
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return RESTOREKIT_E_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    try {
      return fail_with(ErrorCode::kInternal, std::string("internal error: ") + e.what(), schema,
                       error);
    } catch (...) {
      return RESTOREKIT_E_INTERNAL;
    }
  } catch (...) {
    return RESTOREKIT_E_INTERNAL;
  }
}

void set_path(std::optional<fs::path>& target, const char* value) {
  if (value) {
    target = fs::path(value);
  } else {
    target.reset();
  }
}

// The reader options of `o`, with the caller's password callback as the prompt.
rk::core::ReaderOptions reader_options(const restorekit_options& o) {
  rk::core::ReaderOptions reader = o.reader;
  // Answers are remembered per operation (copies of one Passwords share them): a fresh one.
  reader.passwords = rk::core::Passwords{};
  reader.passwords.candidates = o.reader.passwords.candidates;
  if (o.password) {
    auto fn = o.password;
    void* user = o.password_user;
    auto attempt = std::make_shared<unsigned>(0);
    // Readers share one Passwords (the prompt is asked once per attempt, under its lock).
    reader.passwords.prompt = [fn, user, attempt]() -> std::optional<std::string> {
      char buffer[1024] = {};
      if (fn(user, (*attempt)++, buffer, sizeof buffer) == 0) return std::nullopt;
      buffer[sizeof buffer - 1] = '\0';
      return std::string(buffer);
    };
  }
  return reader;
}

// The caller's progress callback as a ProgressFn that trips `cancel` when it returns non-zero.
rk::ProgressFn progress_of(const restorekit_options& o) {
  if (!o.progress) return {};
  auto fn = o.progress;
  void* user = o.progress_user;
  rk::CancelToken cancel = o.cancel;
  return [fn, user, cancel](const rk::Progress& p) {
    std::string current(p.current);
    if (fn(user, p.bytes_done, p.bytes_total, current.c_str()) != 0) cancel.cancel();
  };
}

const restorekit_options& or_default(const restorekit_options* o) {
  static const restorekit_options kDefaults;
  return o ? *o : kDefaults;
}

restorekit_status give_text(restorekit_result** out, std::string json_text, std::string verdict) {
  auto result = std::make_unique<restorekit_result>();
  result->json = std::move(json_text);
  result->verdict = std::move(verdict);
  *out = result.release();
  return RESTOREKIT_OK;
}

restorekit_status give(restorekit_result** out, json doc, std::string verdict) {
  return give_text(out, rk::cli::json_text(doc), std::move(verdict));
}

const char* linked_version(std::string_view name) {
  // The linked libraries' versions, gathered once (thread-safe static initialisation).
  static const auto kLibraries = rk::core::linked_libraries();
  for (const auto& lib : kLibraries) {
    if (lib.name == name) return lib.version.c_str();
  }
  return "unknown";
}

}  // namespace

extern "C" {

const char* restorekit_status_name(restorekit_status status) {
  if (status == RESTOREKIT_OK) return "OK";
  if (status == RESTOREKIT_E_OUT_OF_MEMORY) return "OUT_OF_MEMORY";
  if (status < RESTOREKIT_E_INVALID_ARGUMENT || status > RESTOREKIT_E_INTERNAL) return "UNKNOWN";
  // code_name returns views of string literals: NUL-terminated, static.
  return rk::code_name(static_cast<ErrorCode>(static_cast<int>(status) - 1)).data();
}

restorekit_status restorekit_error_status(const restorekit_error* error) {
  return error ? status_of(error->error.code) : RESTOREKIT_OK;
}
const char* restorekit_error_message(const restorekit_error* error) {
  return error ? error->error.message.c_str() : "";
}
const char* restorekit_error_subject(const restorekit_error* error) {
  return error ? error->error.subject.c_str() : "";
}
const char* restorekit_error_json(const restorekit_error* error) {
  return error ? error->json.c_str() : "";
}
void restorekit_error_free(restorekit_error* error) {
  delete error;
}

const char* restorekit_version(void) {
  return rk::core::version().data();
}
const char* restorekit_build_commit(void) {
  return rk::core::build_commit().data();
}
const char* restorekit_libarchive_version(void) {
  return linked_version("libarchive");
}
const char* restorekit_sqlite_version(void) {
  return linked_version("SQLite");
}
const char* restorekit_zstd_version(void) {
  return linked_version("zstd");
}
const char* restorekit_xxhash_version(void) {
  return linked_version("xxHash");
}

void restorekit_ensure_utf8_locale(void) {
  try {
    rk::core::ensure_utf8_locale();
  } catch (...) {  // the locale stays as it was; operations then say why they refuse
  }
}

restorekit_status restorekit_backup_open(const char* path, restorekit_backup** out,
                                         restorekit_error** error) {
  return guarded({}, error, [&] {
    if (!out) return fail_with(ErrorCode::kInvalidArgument, "out is NULL", {}, error);
    *out = nullptr;
    if (!path || !*path) {
      return fail_with(ErrorCode::kInvalidArgument, "give the backup's path", {}, error);
    }
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (!fs::exists(status)) {
      return fail_with(
          Error(ErrorCode::kNotFound, std::string("the backup ") + path + " does not exist", path),
          {}, error);
    }
    if (!fs::is_regular_file(status)) {
      return fail_with(Error(ErrorCode::kInvalidArgument,
                             std::string("the backup ") + path + " is not a regular file", path),
                       {}, error);
    }
    *out = new restorekit_backup{rk::core::ArchiveSource(fs::path(path))};
    return RESTOREKIT_OK;
  });
}

restorekit_status restorekit_backup_open_memory(const void* data, size_t size, const char* name,
                                                restorekit_backup** out, restorekit_error** error) {
  return guarded({}, error, [&] {
    if (!out) return fail_with(ErrorCode::kInvalidArgument, "out is NULL", {}, error);
    *out = nullptr;
    if (!data && size > 0) {
      return fail_with(ErrorCode::kInvalidArgument, "data is NULL", {}, error);
    }
    static const std::byte kEmpty{};
    auto bytes = std::span<const std::byte>(data ? static_cast<const std::byte*>(data) : &kEmpty,
                                            data ? size : 0);
    *out = new restorekit_backup{
        rk::core::ArchiveSource::memory(bytes, name && *name ? name : "<memory>")};
    return RESTOREKIT_OK;
  });
}

void restorekit_backup_free(restorekit_backup* backup) {
  delete backup;
}

restorekit_options* restorekit_options_new(void) {
  try {
    return new restorekit_options;
  } catch (...) {
    return nullptr;
  }
}
void restorekit_options_free(restorekit_options* options) {
  delete options;
}

void restorekit_options_set_progress(restorekit_options* options, restorekit_progress_fn fn,
                                     void* user) {
  if (!options) return;
  options->progress = fn;
  options->progress_user = user;
}

void restorekit_options_cancel(restorekit_options* options) {
  if (options) options->cancel.cancel();
}
void restorekit_options_reset_cancel(restorekit_options* options) {
  if (options) options->cancel = rk::CancelToken();
}

restorekit_status restorekit_options_add_password(restorekit_options* options,
                                                  const char* password) {
  return guarded({}, nullptr, [&] {
    if (!options || !password) return RESTOREKIT_E_INVALID_ARGUMENT;
    options->reader.passwords.candidates.emplace_back(password);
    return RESTOREKIT_OK;
  });
}

void restorekit_options_set_password_callback(restorekit_options* options,
                                              restorekit_password_fn fn, void* user) {
  if (!options) return;
  options->password = fn;
  options->password_user = user;
}

restorekit_status restorekit_options_set_profile(restorekit_options* options, const char* toml,
                                                 size_t size, const char* base_dir,
                                                 restorekit_error** error) {
  return guarded({}, error, [&] {
    if (!options || (!toml && size > 0)) {
      return fail_with(ErrorCode::kInvalidArgument, "options or toml is NULL", {}, error);
    }
    auto profile = rk::core::parse_profile(std::string_view(toml ? toml : "", toml ? size : 0),
                                           base_dir ? fs::path(base_dir) : fs::current_path());
    if (!profile) return fail_with(std::move(profile).error(), {}, error);
    options->profile = std::move(*profile);
    return RESTOREKIT_OK;
  });
}

restorekit_status restorekit_options_load_profile(restorekit_options* options, const char* path,
                                                  restorekit_error** error) {
  return guarded({}, error, [&] {
    if (!options || !path) {
      return fail_with(ErrorCode::kInvalidArgument, "options or path is NULL", {}, error);
    }
    auto profile = rk::core::load_profile(path);
    if (!profile) return fail_with(std::move(profile).error(), {}, error);
    options->profile = std::move(*profile);
    return RESTOREKIT_OK;
  });
}

void restorekit_options_set_limits(restorekit_options* options, uint64_t max_entries,
                                   uint64_t max_bytes, double max_ratio) {
  if (!options) return;
  rk::core::ReaderLimits defaults;
  auto& limits = options->reader.limits;
  limits.max_entries = max_entries ? max_entries : defaults.max_entries;
  limits.max_total_bytes = max_bytes ? max_bytes : defaults.max_total_bytes;
  limits.max_ratio = max_ratio > 0 ? max_ratio : defaults.max_ratio;
}

restorekit_status restorekit_options_set_temp_dir(restorekit_options* options, const char* dir) {
  return guarded({}, nullptr, [&] {
    if (!options) return RESTOREKIT_E_INVALID_ARGUMENT;
    options->temp_dir = dir ? fs::path(dir) : fs::path();
    return RESTOREKIT_OK;
  });
}

void restorekit_options_set_list_entries(restorekit_options* options, int yes) {
  if (options) options->list_entries = yes != 0;
}
void restorekit_options_set_threads(restorekit_options* options, unsigned threads) {
  if (options) options->threads = threads;
}
restorekit_status restorekit_options_set_checksums_file(restorekit_options* options,
                                                        const char* path) {
  return guarded({}, nullptr, [&] {
    if (!options) return RESTOREKIT_E_INVALID_ARGUMENT;
    set_path(options->checksums_file, path);
    return RESTOREKIT_OK;
  });
}
void restorekit_options_set_require_database(restorekit_options* options, int yes) {
  if (options) options->require_database = yes != 0;
}
restorekit_status restorekit_options_set_live_documents(restorekit_options* options,
                                                        const char* dir) {
  return guarded({}, nullptr, [&] {
    if (!options) return RESTOREKIT_E_INVALID_ARGUMENT;
    set_path(options->live_documents, dir);
    return RESTOREKIT_OK;
  });
}
void restorekit_options_set_sample_rows(restorekit_options* options, size_t rows) {
  if (options) options->sample_rows = rows;
}

const char* restorekit_result_json(const restorekit_result* result) {
  return result ? result->json.c_str() : "";
}
const char* restorekit_result_verdict(const restorekit_result* result) {
  return result ? result->verdict.c_str() : "";
}
void restorekit_result_free(restorekit_result* result) {
  delete result;
}

restorekit_status restorekit_inspect(const restorekit_backup* backup,
                                     const restorekit_options* options, restorekit_result** out,
                                     restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kInspect;
  return guarded(kSchema, error, [&] {
    if (!backup || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "backup or out is NULL", kSchema, error);
    }
    *out = nullptr;
    const auto& o = or_default(options);
    rk::inspect::InspectOptions io;
    io.reader = reader_options(o);
    io.profile = o.profile;
    io.list_entries =
        o.list_entries ? rk::inspect::ListEntries::kYes : rk::inspect::ListEntries::kNo;
    io.temp_dir = o.temp_dir;
    io.progress = progress_of(o);
    io.cancel = o.cancel;
    auto report = rk::inspect::inspect(backup->source, io);
    if (!report) return fail_with(std::move(report).error(), kSchema, error);
    return give(out, rk::cli::inspect_json(*report, o.list_entries),
                report->incomplete ? "incomplete" : "complete");
  });
}

restorekit_status restorekit_verify(const restorekit_backup* backup,
                                    const restorekit_options* options, restorekit_result** out,
                                    restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kVerify;
  return guarded(kSchema, error, [&] {
    if (!backup || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "backup or out is NULL", kSchema, error);
    }
    *out = nullptr;
    const auto& o = or_default(options);
    rk::verify::VerifyOptions vo;
    vo.reader = reader_options(o);
    vo.profile = o.profile;
    vo.checksums_file = o.checksums_file;
    vo.threads = o.threads;
    vo.require_database = o.require_database;
    vo.temp_dir = o.temp_dir;
    vo.progress = progress_of(o);
    vo.cancel = o.cancel;
    auto report = rk::verify::verify(backup->source, vo);
    if (!report) return fail_with(std::move(report).error(), kSchema, error);
    return give(out, rk::cli::verify_json(*report),
                std::string(rk::core::verdict_name(report->verdict())));
  });
}

restorekit_status restorekit_diff(const restorekit_backup* backup, const char* live_database,
                                  const restorekit_options* options, restorekit_result** out,
                                  restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kDiff;
  return guarded(kSchema, error, [&] {
    if (!backup || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "backup or out is NULL", kSchema, error);
    }
    *out = nullptr;
    const auto& o = or_default(options);
    std::optional<fs::path> live;
    if (live_database && *live_database) {
      live = live_database;
    } else if (o.profile && o.profile->live_database) {
      live = o.profile->live_database;
    }
    if (!live) {
      return fail_with(ErrorCode::kInvalidArgument,
                       "diff needs the live database (or [live] database in the profile)", kSchema,
                       error);
    }
    rk::diff::BackupDiffOptions d;
    d.reader = reader_options(o);
    d.temp_dir = o.temp_dir;
    d.diff.sample_rows = o.sample_rows;
    d.diff.progress = progress_of(o);
    d.diff.cancel = o.cancel;
    if (o.profile) rk::diff::apply_profile(d, *o.profile);
    if (o.live_documents) {
      d.live_documents = o.live_documents;
      d.without_documents = rk::diff::BackupDiffOptions::WithoutDocuments::kError;
    }
    auto report = rk::diff::diff_backup(backup->source, *live, d);
    if (!report) return fail_with(std::move(report).error(), kSchema, error);
    return give(out, rk::cli::diff_json(*report), report->changed() ? "changed" : "unchanged");
  });
}

restorekit_status restorekit_plan_restore(const restorekit_backup* backup,
                                          const char* live_database, restorekit_plan_mode mode,
                                          const restorekit_options* options, restorekit_plan** out,
                                          restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kRestore;
  return guarded(kSchema, error, [&] {
    if (!backup || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "backup or out is NULL", kSchema, error);
    }
    *out = nullptr;
    if (mode != RESTOREKIT_DRY_RUN && mode != RESTOREKIT_PLAN_TO_APPLY) {
      return fail_with(ErrorCode::kInvalidArgument, "unknown plan mode", kSchema, error);
    }
    const auto& o = or_default(options);
    rk::restore::PlanOptions po;
    const auto& profile = o.profile;
    if (live_database && *live_database) {
      po.live = live_database;
    } else if (profile && profile->live_database) {
      po.live = *profile->live_database;
    } else {
      return fail_with(ErrorCode::kInvalidArgument,
                       "restore needs the live database (or [live] database in the profile)",
                       kSchema, error);
    }
    if (profile) rk::restore::apply_profile(po, *profile);
    if (o.live_documents) po.live_documents = o.live_documents;
    po.stage_documents = mode == RESTOREKIT_PLAN_TO_APPLY;
    po.diff.sample_rows = o.sample_rows;
    po.reader = reader_options(o);
    po.progress = progress_of(o);
    po.cancel = o.cancel;
    auto planned = rk::restore::plan(backup->source, po);
    if (!planned) return fail_with(std::move(planned).error(), kSchema, error);
    auto handle = std::make_unique<restorekit_plan>();
    handle->plan = std::move(*planned);
    handle->mode = mode;
    rk::cli::RestoreOutcome outcome{handle->plan, std::nullopt, mode == RESTOREKIT_DRY_RUN};
    auto text = rk::cli::restore_json_text(outcome);
    if (!text) return fail_with(std::move(text).error(), kSchema, error);
    handle->result.json = std::move(*text);
    handle->result.verdict = rk::cli::restore_verdict(outcome);
    *out = handle.release();
    return RESTOREKIT_OK;
  });
}

const restorekit_result* restorekit_plan_result(const restorekit_plan* plan) {
  return plan ? &plan->result : nullptr;
}

void restorekit_plan_free(restorekit_plan* plan) {
  if (!plan) return;
  try {
    if (plan->mode == RESTOREKIT_PLAN_TO_APPLY && !plan->applied) rk::restore::discard(plan->plan);
  } catch (...) {  // nothing may leave a free function; the staging is then left behind
  }
  delete plan;
}

restorekit_status restorekit_apply(restorekit_plan* plan, const restorekit_options* options,
                                   restorekit_result** out, restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kRestore;
  return guarded(kSchema, error, [&] {
    if (!plan || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "plan or out is NULL", kSchema, error);
    }
    *out = nullptr;
    if (plan->mode != RESTOREKIT_PLAN_TO_APPLY) {
      return fail_with(ErrorCode::kInvalidArgument,
                       "a dry run's plan cannot be applied: plan with RESTOREKIT_PLAN_TO_APPLY",
                       kSchema, error);
    }
    if (plan->applied) {
      return fail_with(ErrorCode::kInvalidArgument, "this plan was applied already", kSchema,
                       error);
    }
    const auto& o = or_default(options);
    rk::restore::ApplyOptions ao;
    ao.progress = progress_of(o);
    ao.cancel = o.cancel;
    // The result lists a tenant restore's documents after apply removed the staging that held
    // their list.
    if (auto held = rk::restore::hold_chosen_documents(plan->plan); !held) {
      return fail_with(std::move(held).error(), kSchema, error);
    }
    // A blocked plan is refused (PLAN_BLOCKED) by apply itself, live untouched.
    auto applied = rk::restore::apply(plan->plan, ao);
    if (!applied) return fail_with(std::move(applied).error(), kSchema, error);
    rk::cli::RestoreOutcome outcome{plan->plan, std::move(*applied), false};
    plan->applied = true;
    if (!outcome.applied->applied) rk::restore::discard(plan->plan);
    auto text = rk::cli::restore_json_text(outcome);
    if (!text) return fail_with(std::move(text).error(), kSchema, error);
    return give_text(out, std::move(*text), rk::cli::restore_verdict(outcome));
  });
}

restorekit_status restorekit_recover(const char* live_database, restorekit_result** out,
                                     restorekit_error** error) {
  constexpr auto kSchema = rk::core::schema::kRestore;
  return guarded(kSchema, error, [&] {
    if (!live_database || !*live_database || !out) {
      return fail_with(ErrorCode::kInvalidArgument, "live_database or out is NULL", kSchema, error);
    }
    *out = nullptr;
    auto report = rk::restore::recover(live_database);
    if (!report) return fail_with(std::move(report).error(), kSchema, error);
    return give(out, rk::cli::recover_json(*report), rk::cli::recover_verdict(*report));
  });
}

}  // extern "C"
