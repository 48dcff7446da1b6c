-- token.lua: a token minted once by its deployer's first call, moved with balance checks.
function mint(a)
  if state.get("minted") then error("minted already") end
  if math.type(a.supply) ~= "integer" or a.supply <= 0 then error("bad supply") end
  state.put("minted", 1)
  state.put("bal:" .. tx.sender, a.supply)
  return a.supply
end

function transfer(a)
  if math.type(a.amount) ~= "integer" or a.amount <= 0 then error("bad amount") end
  local from, to = "bal:" .. tx.sender, "bal:" .. a.to
  local have = state.get(from) or 0
  if have < a.amount then error("insufficient balance") end
  state.put(from, have - a.amount)
  state.put(to, (state.get(to) or 0) + a.amount)
  emit({from = tx.sender, to = a.to, amount = a.amount})
  return have - a.amount
end

function balance(a)
  return state.get("bal:" .. a.of) or 0
end
