local xs = {}
for i = 0, 999999 do xs[#xs + 1] = i end
local ys = {}
for i = 1, #xs do ys[i] = xs[i] * 3 end
local zs = {}
for i = 1, #ys do if ys[i] % 2 == 0 then zs[#zs + 1] = ys[i] end end
print(#zs)
