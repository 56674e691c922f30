/* verify_backup_dlopen BACKUP: the C API loaded at run time from the shared library, as a
 * plugin host or a language's foreign-function interface does it: dlopen() by SONAME, dlsym()
 * for each function, restorekit.h only for the types. Prints the library's version, the
 * verdict and the report as JSON. Exit: 0 intact, 1 damaged or locked, 2 error. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <restorekit.h>

#define SONAME "librestorekit_c.so.0.2"

/* Every function this program calls, looked up by name. */
struct api {
  void (*ensure_utf8_locale)(void);
  const char* (*version)(void);
  restorekit_status (*backup_open)(const char*, restorekit_backup**, restorekit_error**);
  void (*backup_free)(restorekit_backup*);
  restorekit_status (*verify)(const restorekit_backup*, const restorekit_options*,
                              restorekit_result**, restorekit_error**);
  const char* (*result_verdict)(const restorekit_result*);
  const char* (*result_json)(const restorekit_result*);
  void (*result_free)(restorekit_result*);
  const char* (*error_message)(const restorekit_error*);
  void (*error_free)(restorekit_error*);
};

static int load(void* lib, const char* name, void* slot) {
  void* fn = dlsym(lib, name);
  if (!fn) {
    fprintf(stderr, "error: %s has no %s\n", SONAME, name);
    return 0;
  }
  memcpy(slot, &fn, sizeof fn); /* object pointer to function pointer, as POSIX allows */
  return 1;
}

int main(int argc, char** argv) {
  struct api rk;
  void* lib;
  restorekit_backup* backup = NULL;
  restorekit_result* result = NULL;
  restorekit_error* error = NULL;
  int exit_code = 2;

  if (argc != 2) {
    fprintf(stderr, "usage: verify_backup_dlopen BACKUP\n");
    return 2;
  }
  lib = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "error: %s\n", dlerror());
    return 2;
  }
  if (!load(lib, "restorekit_ensure_utf8_locale", &rk.ensure_utf8_locale) ||
      !load(lib, "restorekit_version", &rk.version) ||
      !load(lib, "restorekit_backup_open", &rk.backup_open) ||
      !load(lib, "restorekit_backup_free", &rk.backup_free) ||
      !load(lib, "restorekit_verify", &rk.verify) ||
      !load(lib, "restorekit_result_verdict", &rk.result_verdict) ||
      !load(lib, "restorekit_result_json", &rk.result_json) ||
      !load(lib, "restorekit_result_free", &rk.result_free) ||
      !load(lib, "restorekit_error_message", &rk.error_message) ||
      !load(lib, "restorekit_error_free", &rk.error_free)) {
    dlclose(lib);
    return 2;
  }
  rk.ensure_utf8_locale();
  printf("restorekit %s\n", rk.version());
  if (rk.backup_open(argv[1], &backup, &error) != RESTOREKIT_OK ||
      rk.verify(backup, NULL, &result, &error) != RESTOREKIT_OK) {
    fprintf(stderr, "error: %s\n", rk.error_message(error));
  } else {
    printf("verdict: %s\n%s\n", rk.result_verdict(result), rk.result_json(result));
    exit_code = strcmp(rk.result_verdict(result), "intact") == 0 ? 0 : 1;
  }
  rk.result_free(result);
  rk.error_free(error);
  rk.backup_free(backup);
  dlclose(lib);
  return exit_code;
}
