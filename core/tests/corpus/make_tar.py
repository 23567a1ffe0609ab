import tarfile, io, struct
def hdr(name, size, typ=b'0'):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b'0000644\0'; h[108:116]=b'0000000\0'; h[116:124]=b'0000000\0'
    if size < 8**11:
        h[124:136] = (b'%011o' % size) + b'\0'
    else:
        h[124] = 0x80; h[124+4:136] = size.to_bytes(8,'big')
    h[136:148] = b'00000000000\0'
    h[156:157] = typ
    h[257:263] = b'ustar\0'; h[263:265]=b'00'
    h[148:156] = b' '*8
    s = sum(h); h[148:156] = b'%06o\0 ' % s
    return bytes(h)
def pad(b): return b + b'\0'*((-len(b))%512)
# 1: header claims 2^40 for config.json
open('big_header.tar','wb').write(hdr(b'config.json', 1<<40) + b'{}'.ljust(512,b'\0') + b'\0'*1024)
# 2: pax size 2^63
rec = b'size=9223372036854775807\n'; rec = (b'%d ' % (len(rec)+3)) + rec
open('pax_size.tar','wb').write(hdr(b'pax', len(rec), b'x') + pad(rec) + hdr(b'config.json', 2) + pad(b'{}') + b'\0'*1024)
rec = b'size=1099511627776\n'; rec = (b'%d ' % (len(rec)+3)) + rec
open('pax_size40.tar','wb').write(hdr(b'pax', len(rec), b'x') + pad(rec) + hdr(b'model.safetensors', 2) + pad(b'{}') + b'\0'*1024)
# 3: gnu long name claims huge
open('longname.tar','wb').write(hdr(b'././@LongLink', 1<<40, b'L') + pad(b'x'*100) + b'\0'*1024)
# 4: backslash traversal
open('backslash.tar','wb').write(hdr(b'..\\..\\evil.json', 2) + pad(b'{}') + b'\0'*1024)
# weights claims 2^40
open('big_weights.tar','wb').write(hdr(b'model.safetensors', 1<<40) + pad(b'\x08'+b'\0'*7+b'{}      ') + b'\0'*1024)
