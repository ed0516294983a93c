def loop():
    acc = 0
    i = 0
    while i <= 10000000:
        acc += i
        i += 1
    return acc
print(loop())
