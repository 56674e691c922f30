/* A C99 program that uses every kind of handle of restorekit.h and frees all of it: built with
 * -std=c99 -pedantic -Werror against librestorekit_c.so, and run by ctest in every build,
 * under ASan and LSan in the sanitizer build (a leak or a bad free fails it).
 * Usage: c_consumer LOCKED_ZIP PASSWORD LIVE_DB. Exit 0 when every check held. */
#include <stdio.h>
#include <string.h>

#include <restorekit.h>

static int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "c_consumer.c:%d: failed: %s\n", __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

struct prompt {
  const char* right;
  unsigned asked;
};

/* Wrong first, then the right password. */
static int answer(void* user, unsigned attempt, char* buffer, size_t size) {
  struct prompt* p = (struct prompt*)user;
  ++p->asked;
  if (attempt > 1) return 0;
  snprintf(buffer, size, "%s", attempt == 0 ? "wrong" : p->right);
  return 1;
}

static int progress(void* user, uint64_t done, uint64_t total, const char* current) {
  (void)done;
  (void)total;
  (void)current;
  ++*(int*)user;
  return 0;
}

int main(int argc, char** argv) {
  restorekit_backup* backup = NULL;
  restorekit_backup* garbage = NULL;
  restorekit_options* options = NULL;
  restorekit_options* bare = NULL;
  restorekit_result* result = NULL;
  restorekit_error* error = NULL;
  restorekit_plan* plan = NULL;
  struct prompt prompt;
  int reports = 0;
  static const char junk[] = "this is not an archive, it is a sentence";
  static const char bad_profile[] = "[database]\nentry = 7\n";

  if (argc != 4) {
    fprintf(stderr, "usage: c_consumer LOCKED_ZIP PASSWORD LIVE_DB\n");
    return 2;
  }
  prompt.right = argv[2];
  prompt.asked = 0;
  restorekit_ensure_utf8_locale();
  CHECK(strlen(restorekit_version()) > 0);
  CHECK(strlen(restorekit_sqlite_version()) > 0);

  options = restorekit_options_new();
  bare = restorekit_options_new();
  CHECK(options && bare);
  restorekit_options_set_password_callback(options, answer, &prompt);
  restorekit_options_set_progress(options, progress, &reports);
  restorekit_options_set_list_entries(options, 1);

  CHECK(restorekit_backup_open(argv[1], &backup, &error) == RESTOREKIT_OK);
  CHECK(restorekit_verify(backup, options, &result, &error) == RESTOREKIT_OK);
  CHECK(result && strcmp(restorekit_result_verdict(result), "intact") == 0);
  CHECK(prompt.asked == 2);
  CHECK(reports > 0);
  restorekit_result_free(result);
  result = NULL;

  /* Without a password: locked, a result and not an error. */
  CHECK(restorekit_verify(backup, bare, &result, &error) == RESTOREKIT_OK);
  CHECK(result && strcmp(restorekit_result_verdict(result), "locked") == 0);
  restorekit_result_free(result);
  result = NULL;

  CHECK(restorekit_inspect(backup, options, &result, &error) == RESTOREKIT_OK);
  CHECK(result && strstr(restorekit_result_json(result), "\"restorekit.inspect/1\"") != NULL);
  restorekit_result_free(result);
  result = NULL;

  CHECK(restorekit_diff(backup, argv[3], options, &result, &error) == RESTOREKIT_OK);
  CHECK(result && strcmp(restorekit_result_verdict(result), "changed") == 0);
  restorekit_result_free(result);
  result = NULL;

  CHECK(restorekit_plan_restore(backup, argv[3], RESTOREKIT_PLAN_TO_APPLY, options, &plan,
                                &error) == RESTOREKIT_OK);
  CHECK(plan && strcmp(restorekit_result_verdict(restorekit_plan_result(plan)), "safe") == 0);
  restorekit_plan_free(plan); /* not applied: removes what it staged */
  plan = NULL;

  /* Errors: each one freed. */
  CHECK(restorekit_backup_open_memory(junk, sizeof junk, "junk", &garbage, &error) ==
        RESTOREKIT_OK);
  CHECK(restorekit_verify(garbage, NULL, &result, &error) == RESTOREKIT_E_NOT_AN_ARCHIVE);
  CHECK(result == NULL && error != NULL);
  CHECK(strstr(restorekit_error_json(error), "NOT_AN_ARCHIVE") != NULL);
  restorekit_error_free(error);
  error = NULL;
  CHECK(restorekit_options_set_profile(bare, bad_profile, sizeof bad_profile - 1, NULL, &error) ==
        RESTOREKIT_E_PROFILE);
  CHECK(error && strlen(restorekit_error_message(error)) > 0);
  restorekit_error_free(error);
  error = NULL;
  restorekit_backup_free(backup);
  backup = NULL;
  CHECK(restorekit_backup_open("/nonexistent/backup.zip", &backup, &error) ==
        RESTOREKIT_E_NOT_FOUND);
  CHECK(backup == NULL && restorekit_error_status(error) == RESTOREKIT_E_NOT_FOUND);
  restorekit_error_free(error);

  /* Freeing NULL is a no-op. */
  restorekit_result_free(NULL);
  restorekit_error_free(NULL);
  restorekit_plan_free(NULL);

  restorekit_backup_free(garbage);
  restorekit_options_free(bare);
  restorekit_options_free(options);
  if (failures == 0) printf("c_consumer: every check held\n");
  return failures == 0 ? 0 : 1;
}
