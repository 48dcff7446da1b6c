/*
 * api_path.c - the path of a number in JSON text, for the two number
 * errors a jansson tree cannot locate.
 *
 * jansson reads "-0" as the integer 0, so negative zero is invisible in the
 * tree; and a number it cannot hold (1e400, 2^64) fails the whole parse
 * with only a byte position.  Both must still be refused with the field's
 * path ("[0].amount"), so this walks the text once, tracking where it is
 * (array indexes and object keys, the structure only: jansson has checked
 * or is checking the grammar), and names the path of the number sought.
 * Paths deeper than QP__LEDGER_PATH_DEPTH_MAX levels stop at that depth.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "ledger/api_int.h"

#define KEY_SHOWN_MAX 40u /* bytes of a key shown in a path, as in decode */

/* One open array or object. */
typedef struct frame {
  bool object;                /* an object (keys) or an array (indexes) */
  bool expect_key;            /* object: the next string is a key */
  size_t index;               /* array: the current element */
  char key[KEY_SHOWN_MAX + 1]; /* object: the current key, printable ASCII */
} frame_t;

typedef struct walk {
  frame_t frames[QP__LEDGER_PATH_DEPTH_MAX]; /* the innermost levels kept */
  size_t depth;                              /* levels open (may exceed the kept ones) */
} walk_t;

static void render(const walk_t *w, char *path, size_t size) {
  size_t used = 0;
  path[0] = '\0';
  size_t kept = w->depth < QP__LEDGER_PATH_DEPTH_MAX ? w->depth : QP__LEDGER_PATH_DEPTH_MAX;
  for (size_t k = 0; k < kept && used < size; k++) {
    const frame_t *f = &w->frames[k];
    int n = f->object ? snprintf(path + used, size - used, "%s%s", k == 0 ? "" : ".", f->key)
                      : snprintf(path + used, size - used, "[%zu]", f->index);
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* Skips the string starting at text[i] == '"'; records it when it is a key.
 * Returns the index after the closing quote. */
static size_t skip_string(walk_t *w, const char *text, size_t len, size_t i) {
  size_t start = ++i;
  while (i < len && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
  frame_t *f = w->depth > 0 && w->depth <= QP__LEDGER_PATH_DEPTH_MAX ? &w->frames[w->depth - 1]
                                                                     : NULL;
  if (f != NULL && f->object && f->expect_key) {
    size_t n = 0;
    for (size_t j = start; j < i && j < len && n < KEY_SHOWN_MAX; j++, n++) {
      char c = text[j];
      f->key[n] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    }
    f->key[n] = '\0';
    f->expect_key = false;
  }
  return i + 1;
}

static void structural(walk_t *w, char c) {
  frame_t *f = w->depth > 0 && w->depth <= QP__LEDGER_PATH_DEPTH_MAX ? &w->frames[w->depth - 1]
                                                                     : NULL;
  if (c == '[' || c == '{') {
    if (w->depth < QP__LEDGER_PATH_DEPTH_MAX)
      w->frames[w->depth] = (frame_t){.object = c == '{', .expect_key = c == '{'};
    w->depth++;
  } else if ((c == ']' || c == '}') && w->depth > 0) {
    w->depth--;
  } else if (c == ',' && f != NULL) {
    if (f->object)
      f->expect_key = true;
    else
      f->index++;
  }
}

static bool number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

int qp__ledger_number_path(const char *text, size_t len, size_t stop, char *path, size_t size) {
  QP_ASSERT(size > 0);
  walk_t w = {.depth = 0};
  bool found = false;
  path[0] = '\0';
  for (size_t i = 0; i < len && i < stop;) {
    char c = text[i];
    if (c == '"') {
      i = skip_string(&w, text, len, i);
      continue;
    }
    if (c != '-' && !(c >= '0' && c <= '9')) {
      structural(&w, c);
      i++;
      continue;
    }
    size_t start = i;
    while (i < len && number_char(text[i])) i++;
    bool negative_zero = i - start == 2 && text[start] == '-' && text[start + 1] == '0';
    if (stop >= len && !negative_zero) continue;
    render(&w, path, size);
    found = true;
    if (negative_zero && stop >= len) return QP__LEDGER_NEGATIVE_ZERO;
  }
  return found && stop < len ? QP__LEDGER_NUMBER_AT : 0;
}
