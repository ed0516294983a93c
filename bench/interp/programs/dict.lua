local keys = {}
for i = 0, 199999 do keys[#keys + 1] = "key" .. i end
local d = {}
for _, k in ipairs(keys) do d[k] = 1 end
local acc = 0
for _, k in ipairs(keys) do acc = acc + d[k] end
print(acc)
