-- counter.lua: a counter any sender may increase (docs/chain.md, "Contracts (Lua)").
--   quipu chain deploy --node URL --key me.key --code examples/contracts/counter.lua --wait
--   quipu chain send --node URL --key me.key --contract ADDR --method inc --args '{"by":2}' --wait
function inc(a)
  local n = (state.get("n") or 0) + ((a and a.by) or 1)
  state.put("n", n)
  emit({count = n})
  return n
end

function get(a)
  return state.get("n") or 0
end
