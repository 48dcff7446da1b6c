/* placeholder, replaced by the generated spec */
#include "api/api.h"
const char qp_api_openapi_json[] = "{}";
