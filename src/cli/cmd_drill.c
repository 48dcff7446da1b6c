/*
 * cmd_drill.c - `quipu drill report [--dir DIR]`: one table of what the
 * attackers did and found (issue "The ledger under attack", part 5).
 *
 * Each drill writes its own JSON results file into build/drills/ (the
 * simulator sim.json, the kill -9 torture torture.json, the bank test
 * bank.json, the fuzzers fuzz.json).  This command reads whichever exist and
 * prints every number in them, one section per drill, so the report never
 * drifts from what was measured.  It exits 1 if any file reports a loss, a
 * violation, a duplicate, a verify failure or a fuzzer crash: the report is
 * also a check.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

static const char *const DRILLS[][2] = {
    {"sim.json", "deterministic simulation (quipu sim ledger; make sim)"},
    {"torture.json", "kill -9 torture of quipu serve (make torture)"},
    {"bank.json", "bank test: concurrent transfers, SIGKILL nemesis, invariant readers"},
    {"fuzz.json", "libFuzzer targets (make fuzz)"},
};

/* Field names whose non-zero (or true) value means something went wrong. */
static int is_bad_field(const char *name) {
  static const char *const bad[] = {"loss",        "lost",      "phantom",   "partial_batch",
                                    "unexpected",  "_failures", "violation", "duplicate",
                                    "verify_fail", "crash",     "mismatch",  "undetected"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (strstr(name, bad[i]) != NULL) return 1;
  return 0;
}

/* Prints one value; returns 1 if it is a bad, non-zero field. */
static int print_value(const char *indent, const char *name, json_t *v) {
  if (json_is_integer(v)) {
    printf("%s%-40s %lld\n", indent, name, (long long)json_integer_value(v));
    return is_bad_field(name) && json_integer_value(v) != 0;
  }
  if (json_is_boolean(v)) {
    printf("%s%-40s %s\n", indent, name, json_is_true(v) ? "yes" : "no");
    return is_bad_field(name) && json_is_true(v);
  }
  if (json_is_string(v)) {
    printf("%s%-40s %s\n", indent, name, json_string_value(v));
    return 0;
  }
  if (json_is_real(v)) { /* durations; nothing here decides money */
    printf("%s%-40s %.1f\n", indent, name, json_real_value(v));
    return 0;
  }
  return 0;
}

static int print_object(const char *indent, json_t *obj);

static int print_array(const char *indent, const char *name, json_t *arr) {
  int bad = 0;
  size_t i;
  json_t *item;
  printf("%s%s:\n", indent, name);
  json_array_foreach(arr, i, item) {
    if (json_is_object(item)) {
      json_t *label = json_object_get(item, "target");
      if (label == NULL) label = json_object_get(item, "name");
      printf("%s  - %s\n", indent, json_is_string(label) ? json_string_value(label) : "");
      bad |= print_object("        ", item);
    } else {
      bad |= print_value("      ", "", item);
    }
  }
  return bad;
}

static int print_object(const char *indent, json_t *obj) {
  int bad = 0;
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (json_is_object(v)) {
      printf("%s%s:\n", indent, key);
      char deeper[32];
      snprintf(deeper, sizeof deeper, "%s  ", indent);
      bad |= print_object(deeper, v);
    } else if (json_is_array(v)) {
      bad |= print_array(indent, key, v);
    } else if (strcmp(key, "target") != 0 && strcmp(key, "name") != 0) {
      bad |= print_value(indent, key, v);
    }
  }
  return bad;
}

int qp_cmd_drill(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *usage = "usage: quipu drill report [--dir DIR]   (default DIR: build/drills)\n";
  if (argc < 2 || strcmp(argv[1], "report") != 0) {
    fprintf(stderr, "%s", usage);
    return 2;
  }
  const char *dir = "build/drills";
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "d:h", opts, NULL)) != -1) {
    if (c == 'd') dir = optarg;
    else {
      fprintf(c == 'h' ? stdout : stderr, "%s", usage);
      return c == 'h' ? 0 : 2;
    }
  }
  int found = 0, bad = 0;
  printf("quipu drill report (%s)\n", dir);
  for (size_t i = 0; i < sizeof DRILLS / sizeof DRILLS[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, DRILLS[i][0]);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL) {
      printf("\n== %s\n   (no results: %s not found or unreadable)\n", DRILLS[i][1], path);
      continue;
    }
    found++;
    printf("\n== %s\n", DRILLS[i][1]);
    int file_bad = json_is_object(root) ? print_object("   ", root) : 0;
    if (file_bad) printf("   !! this drill reports a loss, violation or crash\n");
    bad |= file_bad;
    json_decref(root);
  }
  if (found == 0) {
    fprintf(stderr,
            "quipu drill report: no results in %s; run make test, make sim or make torture\n", dir);
    return 1;
  }
  printf("\nresult: %s\n", bad ? "FAILURES REPORTED" : "no loss, no violation, no crash");
  return bad ? 1 : 0;
}
