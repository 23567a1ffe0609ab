import h5py, numpy as np
def base(path, shape, enc='csc_matrix', nobs=3, nvar=2, obs_decl=None):
    f = h5py.File(path, 'w')
    f.attrs['encoding-type']='anndata'; f.attrs['encoding-version']='0.1.0'
    X = f.create_group('X'); X.attrs['encoding-type']=enc; X.attrs['encoding-version']='0.1.0'
    X.attrs['shape'] = np.array(shape, dtype=np.int64)
    major = shape[1] if enc=='csc_matrix' else shape[0]
    X['data'] = np.array([1.0], dtype=np.float32); X['indices']=np.array([0],dtype=np.int64)
    ip = np.zeros(min(major,nvar)+1, dtype=np.int64); ip[1:]=1
    X['indptr']=ip
    for name,n in (('obs',nobs),('var',nvar)):
        g=f.create_group(name); g.attrs['_index']='_index'; g.attrs['encoding-type']='dataframe'; g.attrs['encoding-version']='0.2.0'
        g.attrs['column-order']=np.array([],dtype='S')
        dt = h5py.string_dtype()
        if name=='obs' and obs_decl:
            d = g.create_dataset('_index', shape=(obs_decl,), dtype=dt, chunks=(1024,), compression='gzip')
        else:
            g['_index']=np.array([f'{name}{i}' for i in range(n)],dtype=object).astype(dt)
    f.close()
base('csc_1e12.h5ad', [10**12, 2])
base('csc_2p61.h5ad', [2**61, 2])
base('csr_1e12.h5ad', [3, 10**12], enc='csr_matrix')
base('obs_1e10.h5ad', [3, 2], obs_decl=10**10)
