package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"time"
)

// testCert is the self-signed certificate shared by every TLS endpoint of
// this package (generated once per test binary; ECDSA P-256 is fast).
var testCert struct {
	once    sync.Once
	err     error
	certPEM []byte
	keyPEM  []byte
	pair    tls.Certificate
	pool    *x509.CertPool
}

func loadTestCert() error {
	testCert.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCert.err = err
			return
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		if err != nil {
			testCert.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: "mx.example.test", Organization: []string{"inboxbot mailtest"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{"localhost", "mx.example.test"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCert.err = err
			return
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			testCert.err = err
			return
		}
		testCert.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		testCert.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		testCert.pair, testCert.err = tls.X509KeyPair(testCert.certPEM, testCert.keyPEM)
		if testCert.err != nil {
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			testCert.err = err
			return
		}
		testCert.pool = x509.NewCertPool()
		testCert.pool.AddCert(leaf)
	})
	return testCert.err
}

// ClientTLSConfig returns a client TLS configuration that trusts the
// package's self-signed certificate (valid for 127.0.0.1, ::1, localhost and
// mx.example.test), so TLS can be tested with verification on.
func ClientTLSConfig() *tls.Config {
	if err := loadTestCert(); err != nil {
		panic("mailtest: generating test certificate: " + err.Error())
	}
	return &tls.Config{RootCAs: testCert.pool, MinVersion: tls.VersionTLS12}
}

// CertPEM returns the PEM encoding of the package's self-signed certificate.
func CertPEM() []byte {
	if err := loadTestCert(); err != nil {
		panic("mailtest: generating test certificate: " + err.Error())
	}
	return append([]byte(nil), testCert.certPEM...)
}

func serverTLSConfig() (*tls.Config, error) {
	if err := loadTestCert(); err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{testCert.pair}, MinVersion: tls.VersionTLS12}, nil
}
