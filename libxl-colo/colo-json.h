/*
 * colo-json.h - the few yajl helpers every daemon's status report needs.
 *
 * The engine, the proxy and the disk each answer STATUS_REQUEST with a JSON
 * object; these keep the key/value calls short and the output uniform
 * (times in milliseconds with microsecond precision).
 */
#ifndef COLO_JSON_H
#define COLO_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

void colo_json_str(yajl_gen g, const char *s);
void colo_json_kstr(yajl_gen g, const char *key, const char *value);
void colo_json_num(yajl_gen g, const char *key, uint64_t v);
void colo_json_ms(yajl_gen g, const char *key, uint64_t ns);
/* Copy the generated text out (NUL-terminated, malloc'd) and free g; 0 or -1. */
int  colo_json_finish(yajl_gen g, char **out, size_t *len);

#endif
