/*
 * chain.h - the consortium chain module's public header (docs/chain.md):
 * what other modules and the CLI may use.  The pieces live in their own
 * headers; this one gathers them.
 *
 *   genesis.h   the network's genesis: chain id, suite, validators, params
 *   keyfile.h   signing keys on disk (validators' and clients')
 *   tx.h        transactions: encoding, signing (`quipu chain send` makes them)
 *   proof.h     state and transaction proofs, and their offline check
 *   lua_vm.h    the Lua contract sandbox: compiling code and checking call
 *               arguments (`quipu chain deploy` and `send --contract`)
 */
#ifndef QP_CHAIN_CHAIN_H
#define QP_CHAIN_CHAIN_H

#include "chain/genesis.h"
#include "chain/keyfile.h"
#include "chain/proof.h"
#include "chain/lua_vm.h"
#include "chain/tx.h"

#endif
