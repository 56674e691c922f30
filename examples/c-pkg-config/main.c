/* verify_backup_c BACKUP [PASSWORD]: verifies a backup through restorekit's C API and prints
 * the version it runs with, the verdict and the report as JSON (what `restorekit verify --json`
 * prints). Exit: 0 intact, 1 damaged or locked, 2 error. */
#include <stdio.h>

#include <restorekit.h>

int main(int argc, char** argv) {
  restorekit_backup* backup = NULL;
  restorekit_options* options = NULL;
  restorekit_result* result = NULL;
  restorekit_error* error = NULL;
  int exit_code = 2;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: verify_backup_c BACKUP [PASSWORD]\n");
    return 2;
  }
  restorekit_ensure_utf8_locale();
  printf("restorekit %s\n", restorekit_version());
  options = restorekit_options_new();
  if (!options) return 2;
  if (argc == 3 && restorekit_options_add_password(options, argv[2]) != RESTOREKIT_OK) goto done;
  if (restorekit_backup_open(argv[1], &backup, &error) != RESTOREKIT_OK ||
      restorekit_verify(backup, options, &result, &error) != RESTOREKIT_OK) {
    fprintf(stderr, "error: %s (%s)\n", restorekit_error_message(error),
            restorekit_status_name(restorekit_error_status(error)));
    goto done;
  }
  printf("verdict: %s\n%s\n", restorekit_result_verdict(result), restorekit_result_json(result));
  exit_code = restorekit_result_verdict(result)[0] == 'i' ? 0 : 1; /* "intact" */

done:
  restorekit_result_free(result);
  restorekit_error_free(error);
  restorekit_backup_free(backup);
  restorekit_options_free(options);
  return exit_code;
}
