/*
 * fuzz_node_config.c - libFuzzer target for node.json (src/node/config.c),
 * which an operator writes by hand.  Properties: no crash, no leak; an
 * accepted file enables at least one known module, has a listen address
 * and a data directory; a refused one says why.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qp_node_config_t c;
  char detail[512] = "";
  int rc = qp_node_config_parse((const char *)data, size, "/srv/node", &c, detail, sizeof detail);
  if (rc != 0) {
    QP_ASSERT(rc == QP_EINVAL || rc == QP_ELIMIT);
    QP_ASSERT(rc != QP_EINVAL || detail[0] != '\0');
    return 0;
  }
  QP_ASSERT(c.modules_count >= 1);
  for (uint32_t i = 0; i < c.modules_count; i++)
    QP_ASSERT(qp_node_module_find(c.modules[i].module->name) == c.modules[i].module);
  QP_ASSERT(c.listen[0] != '\0' && c.data_dir[0] != '\0');
  qp_node_config_deinit(&c);
  return 0;
}
