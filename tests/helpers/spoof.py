#!/usr/bin/env python3
"""Forged frames for the anti-spoofing tests, sent from inside a pod netns.

Raw AF_PACKET frames built byte by byte, so the test says exactly what a
hostile pod puts on its wire (source IP, source MAC, ARP and ND contents),
and a UDP listener that prints what arrived. Test-only; never run outside a
throwaway network namespace.

  spoof.py udp4   IFACE SRC_MAC DST_MAC SRC_IP DST_IP PORT PAYLOAD
  spoof.py udp6   IFACE SRC_MAC DST_MAC SRC_IP DST_IP PORT PAYLOAD
  spoof.py garp   IFACE MAC IP          (gratuitous ARP request and reply)
  spoof.py na     IFACE MAC SRC_IP6 TARGET_IP6   (unsolicited override NA to ff02::1)
  spoof.py ra     IFACE MAC SRC_IP6     (router advertisement to ff02::1)
  spoof.py listen BIND_IP PORT SECONDS  (prints "SRC PAYLOAD" per datagram)
"""
import ipaddress
import socket
import struct
import sys
import time


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def send(iface, frame):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(frame)
    s.close()


def eth(dst, src, etype):
    return mac(dst) + mac(src) + struct.pack("!H", etype)


def ip6hdr(src, dst, nh, payload, hop=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hop) + src + dst


def pseudo6(src, dst, nh, payload):
    return src + dst + struct.pack("!I3xB", len(payload), nh)


def udp4(iface, smac, dmac, sip, dip, port, payload):
    data = payload.encode()
    udp = struct.pack("!HHHH", 40000, int(port), 8 + len(data), 0) + data
    src = socket.inet_aton(sip)
    dst = socket.inet_aton(dip)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    send(iface, eth(dmac, smac, 0x0800) + hdr + udp)


def udp6(iface, smac, dmac, sip, dip, port, payload):
    data = payload.encode()
    src = ipaddress.IPv6Address(sip).packed
    dst = ipaddress.IPv6Address(dip).packed
    udp = struct.pack("!HHHH", 40000, int(port), 8 + len(data), 0) + data
    c = csum(pseudo6(src, dst, 17, udp) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    send(iface, eth(dmac, smac, 0x86DD) + ip6hdr(src, dst, 17, udp) + udp)


def garp(iface, m, ip):
    addr = socket.inet_aton(ip)
    for op, tha in ((1, b"\0" * 6), (2, b"\xff" * 6)):
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac(m) + addr + tha + addr
        send(iface, eth("ff:ff:ff:ff:ff:ff", m, 0x0806) + arp)


def icmp6(iface, m, sip, body):
    src = ipaddress.IPv6Address(sip).packed
    dst = ipaddress.IPv6Address("ff02::1").packed
    c = csum(pseudo6(src, dst, 58, body) + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    send(iface, eth("33:33:00:00:00:01", m, 0x86DD) + ip6hdr(src, dst, 58, body, 255) + body)


def na(iface, m, sip, target):
    t = ipaddress.IPv6Address(target).packed
    body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + t + struct.pack("!BB", 2, 1) + mac(m)
    icmp6(iface, m, sip, body)


def ra(iface, m, sip):
    body = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + struct.pack("!BB", 1, 1) + mac(m)
    icmp6(iface, m, sip, body)


def listen(bind, port, seconds):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((bind, int(port)))
    end = time.time() + float(seconds)
    print("listening", flush=True)
    while True:
        left = end - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        print(addr[0], data.decode(errors="replace"), flush=True)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"udp4": udp4, "udp6": udp6, "garp": garp, "na": na, "ra": ra, "listen": listen}[cmd](*args)
