/*
 * currency.c - ISO 4217 numeric codes (EMV tag 53) and minor units (tag
 * 54's decimals).  The auth module takes any three upper-case letters and
 * knows the minor units of the currencies that differ from 2
 * (qp_auth_currency_decimals in src/auth/payment.c, a private header); a QR
 * code needs the numeric code too, so an order's currency must be one of
 * these.  The list holds auth's currencies with other minor units, with the
 * same digits, plus the ones most traded; adding one is one line.
 */
#include <string.h>

#include "payments/payments_int.h"

typedef struct {
  char alpha[4];    /* "USD" */
  uint16_t numeric; /* 840 */
  int decimals;     /* minor-unit digits: 2, or 0, 3, 4 as in src/auth/payment.c */
} currency_t;

static const currency_t CURRENCIES[] = {
    {"AED", 784, 2}, {"ARS", 32, 2}, {"AUD", 36, 2}, {"BDT", 50, 2}, {"BHD", 48, 3},
    {"BIF", 108, 0}, {"BRL", 986, 2}, {"CAD", 124, 2}, {"CHF", 756, 2}, {"CLF", 990, 4},
    {"CLP", 152, 0}, {"CNY", 156, 2}, {"COP", 170, 2}, {"CZK", 203, 2}, {"DJF", 262, 0},
    {"DKK", 208, 2}, {"EGP", 818, 2}, {"EUR", 978, 2}, {"GBP", 826, 2}, {"GNF", 324, 0},
    {"HKD", 344, 2}, {"HUF", 348, 2}, {"IDR", 360, 2}, {"ILS", 376, 2}, {"INR", 356, 2},
    {"IQD", 368, 3}, {"ISK", 352, 0}, {"JOD", 400, 3}, {"JPY", 392, 0}, {"KES", 404, 2},
    {"KHR", 116, 2}, {"KMF", 174, 0}, {"KRW", 410, 0}, {"KWD", 414, 3}, {"LKR", 144, 2},
    {"LYD", 434, 3}, {"MOP", 446, 2}, {"MXN", 484, 2}, {"MYR", 458, 2}, {"NGN", 566, 2},
    {"NOK", 578, 2}, {"NZD", 554, 2}, {"OMR", 512, 3}, {"PEN", 604, 2}, {"PHP", 608, 2},
    {"PKR", 586, 2}, {"PLN", 985, 2}, {"PYG", 600, 0}, {"QAR", 634, 2}, {"RWF", 646, 0},
    {"SAR", 682, 2}, {"SEK", 752, 2}, {"SGD", 702, 2}, {"THB", 764, 2}, {"TND", 788, 3},
    {"TRY", 949, 2}, {"TWD", 901, 2}, {"UAH", 980, 2}, {"UGX", 800, 0}, {"USD", 840, 2},
    {"UYI", 940, 0}, {"UYU", 858, 2}, {"UYW", 927, 4}, {"VND", 704, 0}, {"VUV", 548, 0},
    {"XAF", 950, 0}, {"XOF", 952, 0}, {"XPF", 953, 0}, {"ZAR", 710, 2},
};

static const currency_t *find(const char *alpha) {
  for (size_t i = 0; i < sizeof CURRENCIES / sizeof CURRENCIES[0]; i++)
    if (strcmp(CURRENCIES[i].alpha, alpha) == 0) return &CURRENCIES[i];
  return NULL;
}

uint16_t qp__pay_currency_numeric(const char *alpha) {
  const currency_t *c = find(alpha);
  return c != NULL ? c->numeric : 0;
}

int qp__pay_currency_decimals(const char *alpha) {
  const currency_t *c = find(alpha);
  return c != NULL ? c->decimals : -1;
}
