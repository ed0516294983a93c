local function loop(i, acc)
  if i > 10000000 then return acc end
  return loop(i + 1, acc + i)
end
print(loop(0, 0))
