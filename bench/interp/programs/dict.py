keys = ["key" + str(i) for i in range(200000)]
d = {}
for k in keys:
    d[k] = 1
acc = 0
for k in keys:
    acc += d[k]
print(acc)
