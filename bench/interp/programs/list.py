xs = list(range(1000000))
ys = list(map(lambda x: x * 3, xs))
zs = list(filter(lambda y: y % 2 == 0, ys))
print(len(zs))
