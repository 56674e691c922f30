/* restorekit.h: the C API of restorekit (plain C99).
 *
 * What a backup holds, whether every byte of it is intact, what a restore would change in the
 * live database and documents, and the restore itself (a dry run that proves it safe, then an
 * atomic apply with a safety snapshot), for programs written in C or in any language with a C
 * foreign-function interface.
 *
 * Conventions, for every function below:
 * - Handles are opaque; each has one function that frees it, and freeing NULL does nothing.
 * - Strings going in and coming out are UTF-8 and NUL-terminated. A string returned as
 *   `const char*` belongs to the handle it came from and lives as long as that handle (or, for
 *   the version functions, as long as the program).
 * - A function that can fail returns a restorekit_status; RESTOREKIT_OK is 0. On failure it sets
 *   `*error` (when `error` is not NULL) to a new restorekit_error the caller frees, and leaves
 *   `*out` NULL. Nothing is half-written: a failed restore leaves the live system as it was.
 * - No C++ exception, signal or longjmp leaves the library; an allocation failure is
 *   RESTOREKIT_E_OUT_OF_MEMORY.
 * - Every result is also the JSON document the command line prints with --json (schemas
 *   "restorekit.inspect/1", "restorekit.verify/1", "restorekit.diff/1", "restorekit.restore/1";
 *   README.md describes them).
 * - Thread safety: the library keeps no global state of its own (the locale is the process's,
 *   see restorekit_ensure_utf8_locale); independent calls may run on different threads at once.
 *   Per function:
 *     restorekit_status_name, restorekit_version and the other version functions: any thread,
 *       any time; they return static strings.
 *     restorekit_ensure_utf8_locale: once, before other threads start (setlocale).
 *     restorekit_backup_open, _open_memory, restorekit_options_new: any thread; the handle they
 *       make is the caller's.
 *     restorekit_inspect, _verify, _diff, _plan_restore, _recover: any thread, several at once,
 *       also on one shared restorekit_backup and one shared restorekit_options (both only read).
 *     restorekit_apply: one call per plan; a plan is used by one thread at a time. Of two applies
 *       to one live database at once, the live database's lock and restore journal let one run;
 *       the other is refused (verdict "refused") or fails with RESTOREKIT_E_CONFLICT.
 *     restorekit_options_set_* and _add_password, _reset_cancel: not while an operation uses
 *       the options.
 *     restorekit_options_cancel: any thread or a signal handler, any time.
 *     restorekit_result_*, restorekit_error_* accessors: any thread; results and errors do not
 *       change after they are returned. Each _free: once, when no other thread uses the handle.
 *   Callbacks run on the thread that called the operation or, for verify of a zip, on one of
 *   its reader threads; either way one call at a time.
 */
#ifndef RESTOREKIT_H
#define RESTOREKIT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RESTOREKIT_C_API __attribute__((visibility("default")))
#else
#define RESTOREKIT_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes ------------------------------------------------------------------------ */

/* Why an operation failed. Problems found *in* a backup (a bad checksum, a corrupt table) are
 * not failures: they are findings in the result, and the operation returns RESTOREKIT_OK. */
typedef enum restorekit_status {
  RESTOREKIT_OK = 0,
  RESTOREKIT_E_INVALID_ARGUMENT = 1,        /* an argument or option is unusable */
  RESTOREKIT_E_NOT_FOUND = 2,               /* a file or entry does not exist */
  RESTOREKIT_E_IO = 3,                      /* the operating system refused a read or write */
  RESTOREKIT_E_NOT_AN_ARCHIVE = 4,          /* not an archive format restorekit reads */
  RESTOREKIT_E_UNSUPPORTED_FORMAT = 5,      /* a recognised but unsupported format or feature */
  RESTOREKIT_E_TRUNCATED = 6,               /* the archive ends early */
  RESTOREKIT_E_CORRUPT_DATA = 7,            /* decompression or structure failed */
  RESTOREKIT_E_CRC_ERROR = 8,               /* an archive's own checksum failed */
  RESTOREKIT_E_PASSWORD_REQUIRED = 9,       /* encrypted, and no password was given */
  RESTOREKIT_E_BAD_PASSWORD = 10,           /* every password given was wrong */
  RESTOREKIT_E_ENCRYPTION_UNSUPPORTED = 11, /* encrypted in a scheme restorekit cannot read */
  RESTOREKIT_E_UNSAFE_PATH = 12,            /* an entry path escapes its target */
  RESTOREKIT_E_UNSAFE_LINK = 13,            /* a link whose target leaves the tree */
  RESTOREKIT_E_LIMIT_EXCEEDED = 14,         /* entry count or total size bound exceeded */
  RESTOREKIT_E_RATIO_LIMIT = 15,            /* compression ratio bound exceeded (a bomb) */
  RESTOREKIT_E_DATABASE = 16,               /* SQLite refused an operation */
  RESTOREKIT_E_BAD_BACKUP = 17,             /* a restorekit header, checksum list or plan is bad */
  RESTOREKIT_E_PROFILE = 18,                /* a profile is unreadable or invalid */
  RESTOREKIT_E_CANCELLED = 19,              /* the operation was cancelled */
  RESTOREKIT_E_CONFLICT = 20,               /* the live system forbids it now (in use, changed,
                                               or an interrupted restore waits for recover) */
  RESTOREKIT_E_INTERNAL = 21,               /* a bug in restorekit */
  RESTOREKIT_E_OUT_OF_MEMORY = 22           /* an allocation failed */
} restorekit_status;

/* The stable upper-case name of a status, as the command line's JSON "code" field spells it:
 * "OK", "BAD_PASSWORD", ... Never NULL (an unknown value gives "UNKNOWN"). Static storage. */
RESTOREKIT_C_API const char* restorekit_status_name(restorekit_status status);

/* ---- Errors ------------------------------------------------------------------------------ */

typedef struct restorekit_error restorekit_error;

RESTOREKIT_C_API restorekit_status restorekit_error_status(const restorekit_error* error);
/* One sentence: what failed and what to do. */
RESTOREKIT_C_API const char* restorekit_error_message(const restorekit_error* error);
/* The file or archive entry concerned; "" when none. */
RESTOREKIT_C_API const char* restorekit_error_subject(const restorekit_error* error);
/* The document the command line prints with --json for this error:
 * {"schema": ..., "error": {"code", "message", "subject"}}. */
RESTOREKIT_C_API const char* restorekit_error_json(const restorekit_error* error);
RESTOREKIT_C_API void restorekit_error_free(restorekit_error* error);

/* ---- Versions ---------------------------------------------------------------------------- */

/* "0.2.0": restorekit's version (the same as `restorekit --version`). Static storage. */
RESTOREKIT_C_API const char* restorekit_version(void);
/* The git commit restorekit was built from ("unknown" outside a git checkout). */
RESTOREKIT_C_API const char* restorekit_build_commit(void);
/* The versions of the libraries actually linked, as each reports itself at run time. */
RESTOREKIT_C_API const char* restorekit_libarchive_version(void);
RESTOREKIT_C_API const char* restorekit_sqlite_version(void);
RESTOREKIT_C_API const char* restorekit_zstd_version(void);
RESTOREKIT_C_API const char* restorekit_xxhash_version(void);

/* ---- Set-up ------------------------------------------------------------------------------ */

/* Archive names are read and written as UTF-8, so LC_CTYPE must be a UTF-8 locale: operations
 * refuse to start without one (RESTOREKIT_E_INVALID_ARGUMENT naming this function). This makes
 * LC_CTYPE C.UTF-8 when the current one is not UTF-8. Call it once at start-up, before threads
 * start (setlocale is process-wide), or set a UTF-8 locale yourself; the library never changes
 * the locale on its own. */
RESTOREKIT_C_API void restorekit_ensure_utf8_locale(void);

/* ---- Backups ----------------------------------------------------------------------------- */

/* An archive to look at: a file, or bytes in memory. Opening reads nothing but the file's
 * type; every operation reads the archive anew. Thread-safe to share between operations. */
typedef struct restorekit_backup restorekit_backup;

/* @return RESTOREKIT_E_NOT_FOUND (no such file), RESTOREKIT_E_INVALID_ARGUMENT (NULL, or not a
 *   regular file). */
RESTOREKIT_C_API restorekit_status restorekit_backup_open(const char* path, restorekit_backup** out,
                                                          restorekit_error** error);
/* Bytes in memory, not copied: `data` must stay valid and unchanged until the backup is freed.
 * `name` (may be NULL) is what reports and messages call the archive. The bytes are untrusted. */
RESTOREKIT_C_API restorekit_status restorekit_backup_open_memory(const void* data, size_t size,
                                                                 const char* name,
                                                                 restorekit_backup** out,
                                                                 restorekit_error** error);
RESTOREKIT_C_API void restorekit_backup_free(restorekit_backup* backup);

/* ---- Options ----------------------------------------------------------------------------- */

/* Settings for one or more operations; NULL options mean every default. */
typedef struct restorekit_options restorekit_options;

/* @return NULL only when memory is exhausted. */
RESTOREKIT_C_API restorekit_options* restorekit_options_new(void);
RESTOREKIT_C_API void restorekit_options_free(restorekit_options* options);

/* Called with the bytes read so far and the total (0 when unknown), and the entry or file being
 * worked on (valid during the call only; may be ""). At most ten calls a second, plus a last
 * one. Return 0 to go on, non-zero to cancel the operation (RESTOREKIT_E_CANCELLED): that sets
 * the options' cancellation flag, as restorekit_options_cancel() does. */
typedef int (*restorekit_progress_fn)(void* user, uint64_t done, uint64_t total,
                                      const char* current);
RESTOREKIT_C_API void restorekit_options_set_progress(restorekit_options* options,
                                                      restorekit_progress_fn fn, void* user);

/* Cancels every operation running with these options, from any thread or a signal handler
 * (one atomic store). An operation stops at its next block of archive data or, comparing or
 * hashing databases, its next rows, with RESTOREKIT_E_CANCELLED, and leaves nothing
 * half-written; apply honours it up to its commit point. The database checks of verify (one
 * integrity_check, one foreign_key_check) run to their end first: only the process-wide token of
 * the C++ API (core::set_query_cancel) interrupts a query inside SQLite. The flag stays set:
 * later operations with these options are cancelled too, until restorekit_options_reset_cancel
 * (which must not run while an operation uses the options). */
RESTOREKIT_C_API void restorekit_options_cancel(restorekit_options* options);
RESTOREKIT_C_API void restorekit_options_reset_cancel(restorekit_options* options);

/* A password to try on encrypted entries (zip: ZipCrypto and AES); may be called several times,
 * candidates are tried in order. The string is copied. */
RESTOREKIT_C_API restorekit_status restorekit_options_add_password(restorekit_options* options,
                                                                   const char* password);
/* Asked for one more password once the candidates are used up: `attempt` counts from 0. Write a
 * NUL-terminated password of at most size-1 bytes into `buffer` and return non-zero, or return 0
 * to give up (the operation then reports the entries as locked). A wrong answer is asked
 * again with the next attempt number. Several verify threads share the answers: the callback
 * is asked once per attempt. */
typedef int (*restorekit_password_fn)(void* user, unsigned attempt, char* buffer, size_t size);
RESTOREKIT_C_API void restorekit_options_set_password_callback(restorekit_options* options,
                                                               restorekit_password_fn fn,
                                                               void* user);

/* A profile (TOML, the command line's --profile): database entry, tenants, documents root and
 * live folder, reference columns. Parsed now; relative paths in it are resolved against
 * `base_dir` (may be NULL: the current folder). The text is untrusted.
 * @return RESTOREKIT_E_PROFILE naming the key or the line of a syntax error. */
RESTOREKIT_C_API restorekit_status restorekit_options_set_profile(restorekit_options* options,
                                                                  const char* toml, size_t size,
                                                                  const char* base_dir,
                                                                  restorekit_error** error);
/* The same from a file. @return also RESTOREKIT_E_NOT_FOUND, RESTOREKIT_E_IO. */
RESTOREKIT_C_API restorekit_status restorekit_options_load_profile(restorekit_options* options,
                                                                   const char* path,
                                                                   restorekit_error** error);

/* Bounds on what an archive may hold (0 keeps the default: 1,000,000 entries, 4 TiB, a ratio
 * of 1000). */
RESTOREKIT_C_API void restorekit_options_set_limits(restorekit_options* options,
                                                    uint64_t max_entries, uint64_t max_bytes,
                                                    double max_ratio);
/* Where databases are staged for inspect, verify and diff (default: the system temp folder). */
RESTOREKIT_C_API restorekit_status restorekit_options_set_temp_dir(restorekit_options* options,
                                                                   const char* dir);
/* inspect: list every entry in the result (default: 0, a summary). */
RESTOREKIT_C_API void restorekit_options_set_list_entries(restorekit_options* options, int yes);
/* verify: readers in parallel for zip (default 0: one per core). */
RESTOREKIT_C_API void restorekit_options_set_threads(restorekit_options* options, unsigned threads);
/* verify: an xxhsum file to check the entries against (NULL: none). */
RESTOREKIT_C_API restorekit_status
restorekit_options_set_checksums_file(restorekit_options* options, const char* path);
/* verify: a backup without a readable database is damaged (default: 0, a warning). */
RESTOREKIT_C_API void restorekit_options_set_require_database(restorekit_options* options, int yes);
/* diff and restore: the live documents folder to compare and restore (NULL: none, unless the
 * profile names one). */
RESTOREKIT_C_API restorekit_status
restorekit_options_set_live_documents(restorekit_options* options, const char* dir);
/* diff and restore: up to `rows` sample keys per table and kind of change (default 0). */
RESTOREKIT_C_API void restorekit_options_set_sample_rows(restorekit_options* options, size_t rows);

/* ---- Results ----------------------------------------------------------------------------- */

/* A finished operation's report. */
typedef struct restorekit_result restorekit_result;

/* The report as the command line's --json document (UTF-8; invalid UTF-8 in archive names is
 * replaced). Owned by the result. */
RESTOREKIT_C_API const char* restorekit_result_json(const restorekit_result* result);
/* In one word: inspect "complete" or "incomplete" (encrypted contents not read); verify
 * "intact", "damaged" or "locked"; diff "changed" or "unchanged"; a plan "safe" or "blocked";
 * apply "restored" or "refused"; recover "clean" or "recovered". Owned by the result. */
RESTOREKIT_C_API const char* restorekit_result_verdict(const restorekit_result* result);
RESTOREKIT_C_API void restorekit_result_free(restorekit_result* result);

/* ---- Operations -------------------------------------------------------------------------- */

/* What is in the backup: format, databases, tables, row counts, tenants, documents. Reads only
 * the header of a restorekit backup. */
RESTOREKIT_C_API restorekit_status restorekit_inspect(const restorekit_backup* backup,
                                                      const restorekit_options* options,
                                                      restorekit_result** out,
                                                      restorekit_error** error);

/* Reads every byte: checksums, structure, databases (integrity and foreign keys), documents.
 * Damage is a verdict ("damaged") with findings, not a failure. */
RESTOREKIT_C_API restorekit_status restorekit_verify(const restorekit_backup* backup,
                                                     const restorekit_options* options,
                                                     restorekit_result** out,
                                                     restorekit_error** error);

/* What a restore would change in the live database (rows lost, revived, reverted per table) and,
 * with live documents set, in the documents folder. Reads live, never writes it. */
RESTOREKIT_C_API restorekit_status restorekit_diff(const restorekit_backup* backup,
                                                   const char* live_database,
                                                   const restorekit_options* options,
                                                   restorekit_result** out,
                                                   restorekit_error** error);

/* A restore plan: the dry run's verdict and effects, and what apply needs. */
typedef struct restorekit_plan restorekit_plan;

typedef enum restorekit_plan_mode {
  /* Verify, diff and check; the staged data is removed before the call returns and the plan
   * cannot be applied. */
  RESTOREKIT_DRY_RUN = 0,
  /* The same, and the database and documents stay staged beside live until
   * restorekit_apply() or restorekit_plan_free(). */
  RESTOREKIT_PLAN_TO_APPLY = 1
} restorekit_plan_mode;

/* The restore's dry run: one pass that stages the database beside live, verifies every byte,
 * diffs against live and runs the safety checks. Live is not modified. A plan that is not safe
 * is a result (verdict "blocked", with its checks), not a failure. */
RESTOREKIT_C_API restorekit_status restorekit_plan_restore(
    const restorekit_backup* backup, const char* live_database, restorekit_plan_mode mode,
    const restorekit_options* options, restorekit_plan** out, restorekit_error** error);
/* The plan's report (verdict "safe" or "blocked"). Owned by the plan. */
RESTOREKIT_C_API const restorekit_result* restorekit_plan_result(const restorekit_plan* plan);
/* Removes what the plan staged (unless an apply installed it) and frees the plan. */
RESTOREKIT_C_API void restorekit_plan_free(restorekit_plan* plan);

/* Applies a plan made with RESTOREKIT_PLAN_TO_APPLY: atomically, under the live database's
 * lock, with a safety snapshot. A refusal (live in use or changed since the plan, the plan
 * blocked) is a result with verdict "refused" and live untouched, not a failure. A plan is
 * applied at most once. */
RESTOREKIT_C_API restorekit_status restorekit_apply(restorekit_plan* plan,
                                                    const restorekit_options* options,
                                                    restorekit_result** out,
                                                    restorekit_error** error);

/* Finishes or undoes a restore that was interrupted (a crash, a kill) on `live_database`. */
RESTOREKIT_C_API restorekit_status restorekit_recover(const char* live_database,
                                                      restorekit_result** out,
                                                      restorekit_error** error);

#ifdef __cplusplus
}
#endif

#endif /* RESTOREKIT_H */
