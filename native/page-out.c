/*
 * page-out: hands the clean pages of the process's read-only file mappings back to the kernel
 * (madvise MADV_PAGEOUT, Linux 5.4 and later), so that what node's executable and the shared
 * libraries paged in only to start leaves the agent's resident set (docs/agent-memory.md,
 * "Thirteenth round"). Pages the process touches again come back on their own, as on any page
 * fault; pages another process also maps are left where they are by the kernel; writable mappings
 * (data, heap, stacks) are never advised. One function, `pageOut()`, returning
 * { mappings, bytes, failed, error }.
 *
 * Built by scripts/build.mjs with the system's C compiler (`cc -shared -fPIC`), without node's
 * headers: the few Node-API functions it calls are declared below, as node_api.h declares them
 * (Node-API is a stable C ABI). When no compiler is there, the agent runs without it and says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* an enum in node_api.h; 0 is napi_ok */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data, napi_value *result);
extern napi_status napi_create_object(napi_env env, napi_value *result);
extern napi_status napi_create_double(napi_env env, double value, napi_value *result);
extern napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length, napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
extern napi_status napi_throw_error(napi_env env, const char *code, const char *msg);

#define NAPI_AUTO_LENGTH SIZE_MAX

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == 0) napi_set_named_property(env, object, name, v);
}

/*
 * A line of /proc/self/maps: "start-end perms offset dev inode   path". Only mappings of a file
 * (the path starts with '/') that are not writable are advised: code, read-only data, and the
 * relocated read-only data of the dynamic linker, whose private copies the kernel keeps (it only
 * swaps anonymous pages, and there is usually no swap).
 */
static napi_value page_out(napi_env env, napi_callback_info info) {
  (void)info;
  FILE *maps = fopen("/proc/self/maps", "re");
  if (maps == NULL) {
    napi_throw_error(env, "PAGE_OUT_NO_MAPS", strerror(errno));
    return NULL;
  }
  char line[4352];
  double mappings = 0, bytes = 0, failed = 0;
  int first_error = 0;
  while (fgets(line, sizeof line, maps) != NULL) {
    unsigned long start, end;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3 || path_at == 0) continue;
    if (line[path_at] != '/' || perms[0] != 'r' || perms[1] == 'w') continue;
    if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) {
      mappings += 1;
      bytes += (double)(end - start);
    } else {
      failed += 1;
      if (first_error == 0) first_error = errno;
    }
  }
  fclose(maps);
  napi_value result, message;
  if (napi_create_object(env, &result) != 0) return NULL;
  set_number(env, result, "mappings", mappings);
  set_number(env, result, "bytes", bytes);
  set_number(env, result, "failed", failed);
  if (first_error != 0 && napi_create_string_utf8(env, strerror(first_error), NAPI_AUTO_LENGTH, &message) == 0)
    napi_set_named_property(env, result, "error", message);
  return result;
}

__attribute__((visibility("default"))) int32_t node_api_module_get_api_version_v1(void) { return 8; }

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "pageOut", NAPI_AUTO_LENGTH, page_out, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "pageOut", fn) != 0) return NULL;
  return exports;
}
